/**
 * The test's copy of the shipped KVM domain, and the 127.0.0.1 UDP ports its NICs use.
 */
import { once } from 'node:events';
import { createSocket } from 'node:dgram';

export interface TestDomainOptions {
  domainType: 'kvm' | 'qemu';
  /** Where the test unpacked the disk. */
  diskPath: string;
  /** The serial console, as a unix socket QEMU listens on. */
  consoleSocket: string;
  /** One per NIC: the UDP port on 127.0.0.1 that QEMU binds for it. */
  nicPorts: number[];
  /** The UDP port on 127.0.0.1 every NIC sends its frames to. */
  wirePort: number;
}

/**
 * The shipped domain with only what the test host needs changed: the domain type,
 * the disk path, the serial console on a unix socket instead of a pty, and the NICs
 * (on network "default" in the shipped file) as UDP sockets on 127.0.0.1, so the
 * guest reaches nothing and no bridge is made. Throws if the shipped file no longer
 * has what is being replaced.
 */
export function testDomainXml(shipped: string, options: TestDomainOptions): string {
  let nic = 0;
  const nicSource = () => {
    const port = options.nicPorts[nic++];
    if (port === undefined) throw new Error(`the domain has more NICs than the ${options.nicPorts.length} ports given`);
    return `<interface type="udp">\n      <source address="127.0.0.1" port="${options.wirePort}">\n        <local address="127.0.0.1" port="${port}"/>\n      </source>`;
  };
  const consoleSource = (kind: string) => `<${kind} type="unix">\n      <source mode="bind" path="${options.consoleSocket}"/>`;
  let xml = replaceOrThrow(shipped, /<domain type="kvm">/, () => `<domain type="${options.domainType}">`);
  xml = replaceOrThrow(xml, /<source file="[^"]*"\/>/, () => `<source file="${options.diskPath}"/>`);
  xml = replaceOrThrow(xml, /<interface type="network">\s*<source network="default"\/>/g, nicSource);
  xml = replaceOrThrow(xml, /<serial type="pty">/, () => consoleSource('serial'));
  return replaceOrThrow(xml, /<console type="pty">/, () => consoleSource('console'));
}

function replaceOrThrow(xml: string, pattern: RegExp, replacement: () => string): string {
  if (!xml.match(pattern)) throw new Error(`the shipped domain XML has no ${pattern}`);
  return xml.replace(pattern, replacement);
}

/** A UDP socket on 127.0.0.1 that takes the guest's frames and drops them. */
export async function udpSink(): Promise<{ port: number; close(): void }> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { port: socket.address().port, close: () => socket.close() };
}

/** Free UDP ports on 127.0.0.1, for QEMU to bind. */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const sockets = await Promise.all(Array.from({ length: count }, udpSink));
  for (const socket of sockets) socket.close();
  return sockets.map((socket) => socket.port);
}
