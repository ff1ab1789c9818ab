/**
 * The libvirt domain XML for KVM (the LBVMKVMv8 target), loaded with
 * `virsh define`. Format: https://libvirt.org/formatdomain.html
 *
 * Every adapter is a virtio NIC on libvirt's NAT network "default" (the guide:
 * "Network cards are set to NAT by default"); only the first has its link up,
 * the others exist with the cable pulled. The disk is virtio, the console a
 * serial port, and the machine type the plain "pc" that every KVM host has.
 *
 * No <uuid> or MAC addresses are written: libvirt generates them at define
 * time, so a second copy of the file (an HA pair on one host) only needs a new
 * name and disk path instead of failing on a duplicate UUID.
 */
import { comment, el, renderXml, text } from './xml.js';
import { checkVirtualMachine, DescriptorError, machineId, type VirtualMachine } from './vm.js';

export interface LibvirtOptions {
  /** Absolute path of the disk image on the KVM host, e.g. /var/lib/libvirt/images/LBVMKVMv8.qcow2. */
  diskPath: string;
  diskFormat: 'qcow2' | 'raw';
  /** "kvm" with hardware virtualisation, "qemu" for software emulation (slow, for tests). */
  domainType: 'kvm' | 'qemu';
}

const NETWORK = 'default';

export function libvirtDomainXml(vm: VirtualMachine, opts: LibvirtOptions): string {
  checkVirtualMachine(vm);
  if (typeof opts.diskPath !== 'string' || !opts.diskPath.startsWith('/') || /[\u0000-\u001f\u007f]/.test(opts.diskPath)) {
    throw new DescriptorError('diskPath', `must be an absolute path (got ${JSON.stringify(opts.diskPath)})`);
  }
  if (opts.diskFormat !== 'qcow2' && opts.diskFormat !== 'raw') {
    throw new DescriptorError('diskFormat', `must be "qcow2" or "raw" (got ${JSON.stringify(opts.diskFormat)})`);
  }
  if (opts.domainType !== 'kvm' && opts.domainType !== 'qemu') {
    throw new DescriptorError('domainType', `must be "kvm" or "qemu" (got ${JSON.stringify(opts.domainType)})`);
  }
  const name = machineId(vm.name);
  const interfaces = Array.from({ length: vm.nics }, (_, i) =>
    el(
      'interface',
      { type: 'network' },
      el('source', { network: NETWORK }),
      el('model', { type: 'virtio' }),
      el('link', { state: i === 0 ? 'up' : 'down' }),
    ),
  );

  const domain = el(
    'domain',
    { type: opts.domainType },
    comment(deploymentNotes(vm, name)),
    text('name', name),
    text('title', vm.name),
    text('description', `${vm.name}, version ${vm.version}`),
    text('memory', vm.memoryMiB, { unit: 'MiB' }),
    text('currentMemory', vm.memoryMiB, { unit: 'MiB' }),
    text('vcpu', vm.cpus, { placement: 'static' }),
    el('os', {}, text('type', 'hvm', { arch: 'x86_64', machine: 'pc' }), el('boot', { dev: 'hd' })),
    el('features', {}, el('acpi'), el('apic')),
    el('clock', { offset: 'utc' }),
    text('on_poweroff', 'destroy'),
    text('on_reboot', 'restart'),
    text('on_crash', 'restart'),
    el(
      'devices',
      {},
      el(
        'disk',
        { type: 'file', device: 'disk' },
        el('driver', { name: 'qemu', type: opts.diskFormat }),
        el('source', { file: opts.diskPath }),
        el('target', { dev: 'vda', bus: 'virtio' }),
      ),
      ...interfaces,
      el('serial', { type: 'pty' }, el('target', { port: 0 })),
      el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 })),
      el('graphics', { type: 'vnc', port: -1, autoport: 'yes', listen: '127.0.0.1' }),
      el('memballoon', { model: 'virtio' }),
    ),
  );
  return renderXml(domain, { declaration: false });
}

// Only machineId() output and numbers go into the comment: a user string
// could contain "--", which XML forbids there.
function deploymentNotes(vm: VirtualMachine, name: string): string {
  const notes = [
    `${name}: libvirt domain for KVM.`,
    '',
    'Deploy:',
    '  1. Extract the archive so the disk image is where <source file=.../> says',
    "  2. virsh define <this XML file>",
    `  3. virsh start ${name}`,
    `  4. virsh console ${name}   (serial console; the graphical one is VNC on 127.0.0.1)`,
    '',
    'Notes:',
    `- The ${vm.nics} network adapters use libvirt's NAT network "${NETWORK}".`,
    '  Only the first is connected at power-on; the others have their link down.',
    '  Before starting, point <source network=.../> at the network you want, or use',
    "  <interface type='bridge'><source bridge='br0'/> to bridge to the LAN.",
    '  Later: virsh domif-setlink <domain> <interface> up.',
    '- libvirt chooses the UUID and MAC addresses when the domain is defined.',
    '- For a second appliance (an HA pair), copy the disk, and in a copy of this',
    '  file change <name> and the disk <source file=.../> before defining it.',
    "- With no hardware virtualisation, change <domain type='kvm'> to type='qemu'.",
  ];
  return `\n  ${notes.join('\n  ').replace(/ +\n/g, '\n')}\n  `;
}
