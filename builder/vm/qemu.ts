/**
 * Boots a disk image in QEMU, for the boot tests and the audit stage: KVM when
 * /dev/kvm is usable, TCG otherwise; the serial console on stdio; user-mode networking
 * with restrict=on, so the guest reaches nothing, and host forwards bound to 127.0.0.1
 * only, or every NIC on a tap device inside a network namespace the caller made. The
 * image is opened with snapshot=on unless the caller asks otherwise: every boot starts
 * from the pristine image.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { SerialConsole } from './console.js';

export type DiskBus = 'virtio' | 'ide' | 'lsi-scsi';
export type NicModel = 'virtio-net-pci' | 'e1000' | 'vmxnet3' | 'rtl8139';
export type Firmware = 'bios' | 'uefi';

export interface VmOptions {
  image: string;
  format?: 'raw' | 'qcow2' | 'vmdk' | 'vpc' | 'vhdx';
  firmware?: Firmware;
  diskBus?: DiskBus;
  nicModel?: NicModel;
  /** Network adapters; only the first is connected, as on the shipped VMs. */
  nics?: number;
  memoryMiB?: number;
  /** Guest TCP ports to forward from 127.0.0.1. */
  forwardPorts?: number[];
  /** Extra read-only raw drives, found in the guest as /dev/disk/by-id/virtio-<serial>. */
  extraDrives?: Array<{ file: string; serial: string }>;
  /** Every NIC on a tap device in place of user networking; then `nics` is the number of taps. */
  taps?: TapNetwork;
  /** Fifth byte of the MAC addresses (52:54:00:12:XX:..), distinct for VMs sharing a bridge. */
  macByte?: number;
  /**
   * The guest may reboot within this QEMU process (by default a reboot ends it). Its disk
   * writes live as long as the process, so a reboot keeps them and a new boot does not.
   */
  allowReboot?: boolean;
  /**
   * Boot writes go to the image itself instead of a throw-away snapshot, so the next QEMU
   * boots what this one wrote (tests pass a qcow2 overlay of their own over the build).
   */
  persistent?: boolean;
  /** A second serial port (the guest's ttyS1) on a Unix socket, e.g. a heartbeat cable between two VMs. */
  serialLink?: SerialLink;
}

export interface SerialLink {
  socket: string;
  /** This end creates the socket; the other end connects, and reconnects when it is gone. */
  listen: boolean;
}

export interface TapNetwork {
  /** The network namespace holding the taps; QEMU runs inside it. */
  namespace: string;
  /** The tap device of each NIC, in order. */
  devices: string[];
}

/** The appliance's default address, inside QEMU's private user-mode network. */
export const GUEST_ADDRESS = '192.168.2.21';
export const OVMF_FIRMWARE = '/usr/share/ovmf/OVMF.fd';

export interface RunningVm {
  console: SerialConsole;
  /** Host port on 127.0.0.1 for each forwarded guest port. */
  hostPort: Map<number, number>;
  /** MAC address of NIC n (0-based). */
  mac(n: number): string;
  stop(): Promise<void>;
}

export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function bootVm(options: VmOptions): Promise<RunningVm> {
  const { image, format = 'raw', firmware = 'bios', diskBus = 'virtio', nicModel = 'virtio-net-pci', memoryMiB = 1024, taps, macByte = 0x34 } = options;
  const nics = taps ? taps.devices.length : (options.nics ?? 4);
  if (!existsSync(image)) throw new Error(`no image at ${image}`);
  if (firmware === 'uefi' && !existsSync(OVMF_FIRMWARE)) throw new Error(`UEFI boot needs ${OVMF_FIRMWARE} (Debian package ovmf)`);
  if (taps && options.forwardPorts?.length) throw new Error('forwardPorts needs user networking; with taps, reach the guest from inside the namespace');
  if (taps && options.nics !== undefined && options.nics !== nics) throw new Error(`nics is ${options.nics}, but ${nics} taps are given`);
  const hostPort = new Map<number, number>();
  for (const guestPort of options.forwardPorts ?? []) hostPort.set(guestPort, await freePort());
  const mac = (n: number) => `52:54:00:12:${macByte.toString(16).padStart(2, '0')}:${(0x56 + n).toString(16)}`;

  const forwards = [...hostPort].map(([guest, host]) => `,hostfwd=tcp:127.0.0.1:${host}-${GUEST_ADDRESS}:${guest}`).join('');
  const args = [
    ...(kvmUsable() ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg']),
    '-m', String(memoryMiB),
    '-smp', '2',
    '-display', 'none',
    '-monitor', 'none',
    '-serial', 'stdio',
    ...(options.allowReboot ? [] : ['-no-reboot']),
    ...(firmware === 'uefi' ? ['-bios', OVMF_FIRMWARE] : []),
    // The firmware boots the system disk and nothing else (it has bootindex 0): no boot
    // menu, and no network boot to fall back to.
    '-boot', 'menu=off,strict=on',
    // An entropy source, as a hypervisor's virtio-rng or a CPU's RDRAND gives the appliance:
    // TCG's CPU has no RDRAND, and without a source systemd-random-seed holds sysinit.target
    // until the kernel's jitter entropy has initialised the pool, seconds under emulation.
    '-device', 'virtio-rng-pci',
    '-drive', `file=${image},format=${format},if=none,id=disk0${options.persistent ? '' : ',snapshot=on'}`,
    ...diskDevice(diskBus),
    ...(options.extraDrives ?? []).flatMap(({ file, serial }, n) => [
      '-drive', `file=${file},format=raw,if=none,id=extra${n},readonly=on`,
      '-device', `virtio-blk-pci,drive=extra${n},serial=${serial}`,
    ]),
  ];
  if (options.serialLink) {
    const { socket, listen } = options.serialLink;
    args.push('-chardev', `socket,id=link0,path=${socket},${listen ? 'server=on,wait=off' : 'reconnect=1'}`, '-device', 'isa-serial,chardev=link0');
  }
  if (taps) {
    taps.devices.forEach((tap, n) => args.push('-netdev', `tap,id=net${n},ifname=${tap},script=no,downscript=no`));
  } else {
    args.push('-netdev', `user,id=net0,restrict=on,net=192.168.2.0/24,host=192.168.2.2,dhcpstart=192.168.2.100${forwards}`);
  }
  for (let n = 0; n < nics; n++) {
    // With user networking, NICs after the first have no peer: present in the guest, with
    // no cable in. No NIC is booted from, so none carries an option ROM (iPXE): the firmware
    // would load and start one per NIC, seconds under TCG, for nothing.
    const netdev = taps || n === 0 ? `,netdev=net${n}` : '';
    args.push('-device', `${nicModel},mac=${mac(n)},romfile=${netdev}`);
  }
  const [command, commandArgs] = taps
    ? ['ip', ['netns', 'exec', taps.namespace, 'qemu-system-x86_64', ...args]]
    : ['qemu-system-x86_64', args];
  const child: ResultPromise = execa(command, commandArgs, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false });
  const console = new SerialConsole(child.stdout!, child.stdin!);
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    if (!/has no peer|requested NIC/.test(text)) process.stderr.write(`qemu: ${text}`);
  });
  return {
    console,
    hostPort,
    mac,
    async stop() {
      child.kill('SIGTERM');
      await child;
    },
  };
}

function diskDevice(bus: DiskBus): string[] {
  switch (bus) {
    case 'virtio':
      return ['-device', 'virtio-blk-pci,drive=disk0,bootindex=0'];
    case 'ide':
      return ['-device', 'ide-hd,drive=disk0,bus=ide.0,bootindex=0'];
    case 'lsi-scsi':
      return ['-device', 'lsi53c895a,id=scsi0', '-device', 'scsi-hd,drive=disk0,bus=scsi0.0,bootindex=0'];
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
