/** kvm: every KVM host. A libvirt domain for `virsh define` and a qcow2 disk (guide: LBVMKVMv8.tar.bz2). */
import { MAX_NICS } from '../descriptors/vm.js';
import { TAR_BZ2_TOOLS } from '../packaging/tar-bz2.js';
import type { Target } from '../target.js';

export const kvm: Target = {
  name: 'kvm',
  summary: 'KVM: libvirt domain XML (virtio, NICs on NAT network "default", serial console) and a qcow2 disk, as .tar.bz2',
  disk: { format: 'qcow2', file: 'Loadbalancer.org_VA_V{version}.qcow2' },
  hardware: { nic: 'virtio', diskController: 'virtio' },
  descriptor: { kind: 'libvirt-domain', file: 'Loadbalancer.org_VA_V{version}.xml', diskDirectory: '/var/lib/libvirt/images' },
  packaging: [{ kind: 'tar.bz2', file: 'LBVMKVMv{major}.tar.bz2' }],
  tools: TAR_BZ2_TOOLS,
  maxNics: MAX_NICS,
};
