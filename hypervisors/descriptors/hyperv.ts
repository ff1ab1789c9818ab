/**
 * Hyper-V: a PowerShell script that creates the virtual machine around the
 * shipped VHD/VHDX, and a README for the download.
 *
 * Hyper-V has no portable descriptor (an exported VM's XML/VMCX is tied to the
 * host version), so the script builds the VM with the Hyper-V module's
 * cmdlets: Generation 1, static memory, the disk on IDE 0:0 (a Generation 1 VM
 * boots only from IDE), synthetic adapters (Linux Integration Services are in
 * the appliance) with only the first connected.
 *
 * Every string that comes from the VM description is written as a PowerShell
 * single-quoted string, where nothing is expanded (see psQuote()), and never
 * into a comment, which a "#>" in it would end.
 * Both files use CRLF line ends so Notepad on older Windows Server shows them
 * properly, and the script starts with a UTF-8 byte order mark so Windows
 * PowerShell 5.1 reads non-ASCII names as UTF-8 rather than the ANSI code page.
 */
import { checkMemoryRule, checkVirtualMachine, DescriptorError, HYPERV_MEMORY, type VirtualMachine } from './vm.js';

export interface HypervScriptOptions {
  /** Path of the VHD/VHDX relative to the script's folder, e.g. "LBVMHYPER-V3v8.vhdx". */
  diskFileName: string;
  /** Only Generation 1 is supported: the appliance boots with BIOS. */
  generation: 1;
}

/** hyperv: VHDX for Windows Server 2012 R2 and later; hyperv-legacy: VHD for 2008 R2 and 2012. */
export type HypervTarget = 'hyperv' | 'hyperv-legacy';

/** The file name the README tells users to run. */
export const HYPERV_SCRIPT_NAME = 'New-ApplianceVM.ps1';

/**
 * Quotes a string for PowerShell. In a single-quoted string nothing is
 * expanded and a quote is escaped by doubling it; PowerShell also treats the
 * typographic quotes U+2018–U+201B as single quotes, so those are doubled too.
 */
export function psQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, '$&$&')}'`;
}

export function hypervImportScript(vm: VirtualMachine, opts: HypervScriptOptions): string {
  checkVirtualMachine(vm);
  if (opts.generation !== 1) {
    throw new DescriptorError('generation', `must be 1 (got ${JSON.stringify(opts.generation)})`);
  }
  checkMemoryRule(vm, HYPERV_MEMORY);
  const disk = opts.diskFileName;
  if (typeof disk !== 'string' || disk.trim() === '' || /[\u0000-\u001f\u007f]/.test(disk) || /^([a-z]:)?[\\/]/i.test(disk)) {
    throw new DescriptorError('diskFileName', `must be a path relative to the script (got ${JSON.stringify(disk)})`);
  }
  const memory = `${vm.memoryMiB}MB`;
  const extraNics = Array.from(
    { length: vm.nics - 1 },
    (_, i) => `Add-VMNetworkAdapter -VM $vm -Name ${psQuote(`Network Adapter ${i + 2}`)}`,
  );

  const lines = [
    '<#',
    '.SYNOPSIS',
    "    Creates the appliance's virtual machine on this Hyper-V host.",
    '.DESCRIPTION',
    '    Copies the virtual disk that sits beside this script into a new folder and',
    `    creates a Generation 1 VM with ${vm.cpus} virtual CPU(s), ${vm.memoryMiB} MB of static memory,`,
    `    the disk on IDE 0:0 and ${vm.nics} network adapter(s). Only the first adapter is`,
    '    connected, to the switch named by -SwitchName (default: the first external switch).',
    '    Because the disk is copied, the same download can be imported again for the',
    '    second appliance of an HA pair: give it another -VMName.',
    '',
    '    Run it in an elevated PowerShell on Windows Server 2012 or later:',
    `        powershell -ExecutionPolicy Bypass -File .\\${HYPERV_SCRIPT_NAME}`,
    '.PARAMETER SwitchName',
    '    The virtual switch for the first network adapter.',
    '.PARAMETER VMName',
    '    The name of the new virtual machine.',
    '.PARAMETER DestinationPath',
    "    Folder in which a folder named after the VM is created (default: the host's",
    '    virtual machine folder).',
    '#>',
    '[CmdletBinding()]',
    'param(',
    '    [string]$SwitchName,',
    `    [string]$VMName = ${psQuote(vm.name)},`,
    '    [string]$DestinationPath',
    ')',
    '',
    "$ErrorActionPreference = 'Stop'",
    '',
    `$sourceDisk = Join-Path $PSScriptRoot ${psQuote(disk)}`,
    'if (-not (Test-Path -LiteralPath $sourceDisk)) {',
    '    throw "The virtual disk $sourceDisk is missing: extract the whole archive first."',
    '}',
    'if (Get-VM | Where-Object { $_.Name -eq $VMName }) {',
    '    throw "A virtual machine named $VMName already exists: choose another -VMName."',
    '}',
    'if (-not $SwitchName) {',
    '    $external = @(Get-VMSwitch -SwitchType External)',
    '    if ($external.Count -eq 0) {',
    "        throw 'No external virtual switch found: create one, or name a switch with -SwitchName.'",
    '    }',
    '    $SwitchName = $external[0].Name',
    '}',
    'if (-not $DestinationPath) {',
    '    $DestinationPath = (Get-VMHost).VirtualMachinePath',
    '}',
    '',
    '$vmFolder = Join-Path $DestinationPath $VMName',
    'if (Test-Path -LiteralPath $vmFolder) {',
    '    throw "$vmFolder already exists: choose another -VMName or -DestinationPath."',
    '}',
    "$diskFolder = Join-Path $vmFolder 'Virtual Hard Disks'",
    'New-Item -ItemType Directory -Path $diskFolder | Out-Null',
    '$disk = Join-Path $diskFolder (Split-Path -Leaf $sourceDisk)',
    'Write-Host "Copying the virtual disk to $disk ..."',
    'Copy-Item -LiteralPath $sourceDisk -Destination $disk',
    '',
    `$newVm = @{ Name = $VMName; Path = $DestinationPath; MemoryStartupBytes = ${memory}; NoVHD = $true; SwitchName = $SwitchName }`,
    '# -Generation arrived with Windows Server 2012 R2; on 2012 every VM is generation 1.',
    "if ((Get-Command New-VM).Parameters.ContainsKey('Generation')) {",
    `    $newVm.Generation = ${opts.generation}`,
    '}',
    '$vm = New-VM @newVm',
    `Set-VMProcessor -VM $vm -Count ${vm.cpus}`,
    `Set-VMMemory -VM $vm -DynamicMemoryEnabled $false -StartupBytes ${memory}`,
    'Add-VMHardDiskDrive -VM $vm -ControllerType IDE -ControllerNumber 0 -ControllerLocation 0 -Path $disk',
    '# The other adapters are created unconnected; connect them in the VM settings when needed.',
    ...extraNics,
    '',
    'Write-Host "Created $VMName. Start it with: Start-VM -Name \'$VMName\'"',
  ];
  return `\uFEFF${lines.join('\r\n')}\r\n`;
}

export function hypervReadme(vm: VirtualMachine, target: HypervTarget): string {
  checkVirtualMachine(vm);
  if (target !== 'hyperv' && target !== 'hyperv-legacy') {
    throw new DescriptorError('target', `must be "hyperv" or "hyperv-legacy" (got ${JSON.stringify(target)})`);
  }
  const hosts = target === 'hyperv' ? 'Windows Server 2012 R2 and later' : 'Windows Server 2008 R2 and 2012';
  const title = `${vm.name} (version ${vm.version}) for Microsoft Hyper-V, ${hosts}`;
  const extra = vm.nics - 1;
  const lines = [
    title,
    '='.repeat(title.length),
    '',
    'Contents',
    `  ${vm.disk.fileName}  the virtual disk`,
    `  ${HYPERV_SCRIPT_NAME}  creates the virtual machine`,
    '',
    'Import with PowerShell (Windows Server 2012 and later)',
    '  1. Extract the whole archive on the Hyper-V host.',
    '  2. Open PowerShell as Administrator in the extracted folder and run:',
    `       powershell -ExecutionPolicy Bypass -File .\\${HYPERV_SCRIPT_NAME}`,
    '     Options: -SwitchName <virtual switch> (default: the first external switch),',
    '              -VMName <name>, -DestinationPath <folder>.',
    '     The script copies the disk, so the download can be imported again for the',
    '     second appliance of an HA pair (give that one another -VMName).',
    '  3. Start the virtual machine from Hyper-V Manager or with Start-VM.',
    '',
    target === 'hyperv-legacy'
      ? 'Create it by hand (Windows Server 2008 R2, which has no Hyper-V PowerShell module)'
      : 'Create it by hand in Hyper-V Manager',
    `  1. Copy ${vm.disk.fileName} to where the VM's disks should live.`,
    `  2. Action > New > Virtual Machine: name it, Generation 1 if asked, ${vm.memoryMiB} MB of memory`,
    '     (not dynamic), connect it to your virtual switch, and choose "Use an existing',
    '     virtual hard disk" with the copied disk.',
    `  3. Settings > Processor: ${vm.cpus} virtual processor(s).`,
    ...(extra > 0
      ? [`  4. Settings > Add Hardware > Network Adapter, ${extra} time(s); leave them "Not connected".`]
      : []),
    `  ${extra > 0 ? 5 : 4}. Start the virtual machine.`,
    '',
    'Networking',
    `  The appliance has ${vm.nics} network adapter(s); only the first is connected at power-on.`,
    '  Connect the others in Settings > Network Adapter when you need them.',
    '  Then follow "Initial Network Interface Configuration" in the quick start guide.',
  ];
  return `${lines.join('\r\n')}\r\n`;
}
