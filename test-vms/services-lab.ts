/**
 * The virtual services test bed, for the services test and benchmark: the layer-2
 * network, the load balancer and the backend VM booted side by side, and the client's
 * requests from inside the network's namespace.
 */
import { bootBackend, type BackendVm } from './backend-vm.js';
import { clientCurl, createL2Network, type L2Network, type Ran } from './l2-network.js';
import { bootLoadBalancer, LB_ADDRESS, type LoadBalancerVm } from './lb-vm.js';

export const WUI_CREDENTIALS = 'loadbalancer:loadbalancer';
export const WUI_OVERVIEW = `http://${LB_ADDRESS}:9080/lbadmin/`;

export interface ServicesLab {
  network: L2Network;
  lb: LoadBalancerVm;
  backend: BackendVm;
  /** curl from the client; resolves with what it printed and its exit status. */
  curl(url: string, extra?: string[]): Promise<Ran>;
  /** The body of a successful GET (curl -f), or an error naming the URL. */
  get(url: string, extra?: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function startServicesLab(image: string, options: { drVips: string[] }): Promise<ServicesLab> {
  const network = await createL2Network();
  let lb: LoadBalancerVm;
  let backend: BackendVm;
  try {
    [lb, backend] = await Promise.all([bootLoadBalancer(network, image), bootBackend({ image, network, drVips: options.drVips })]);
  } catch (error) {
    // Removing the namespace stops the QEMU of the other VM too.
    await network.remove();
    throw error;
  }
  const curl = (url: string, extra: string[] = []) => clientCurl(network, url, extra);
  return {
    network,
    lb,
    backend,
    curl,
    async get(url, extra = []) {
      const result = await curl(url, ['-f', ...extra]);
      if (result.exitCode !== 0) throw new Error(`curl ${[...extra, url].join(' ')} exited ${result.exitCode}: ${result.stderr}`);
      return result.stdout;
    },
    async close() {
      await Promise.all([lb.stop(), backend.stop()]);
      await network.remove();
    },
  };
}
