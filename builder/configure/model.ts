/**
 * A physical model's file, /etc/loadbalancer/model: what the image knows of the hardware it
 * is made for, as NAME=VALUE lines a shell reads. lb-nic-order names the ports by
 * NIC_LAYOUT ("driver:ports:location" per group, in ethN order); lbcli takes the HA pair's
 * heartbeat serial port from HEARTBEAT_SERIAL. Virtual appliances have no such file.
 */
import { writeImageFile } from '../rootdir.js';
import type { RecipeModel } from '../recipe/schema.js';

export const MODEL_FILE = '/etc/loadbalancer/model';

export function modelFile(model: RecipeModel): string {
  const layout = model.nics.map(({ driver, ports, location }) => `${driver}:${ports}:${location}`).join(' ');
  const ports = model.nics.reduce((sum, group) => sum + group.ports, 0);
  return [
    `MODEL_ID=${model.id}`,
    `MODEL_NAME=${model.product}`,
    `NIC_COUNT=${ports}`,
    `NIC_LAYOUT="${layout}"`,
    `HEARTBEAT_SERIAL=/dev/${model.heartbeatSerial}`,
    '',
  ].join('\n');
}

export async function writeModelFile(root: string, model: RecipeModel | undefined): Promise<void> {
  if (model) await writeImageFile(root, MODEL_FILE, modelFile(model));
}
