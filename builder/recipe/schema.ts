/**
 * The recipe schema: the single source of truth for what a recipe may say.
 * ajv validates recipes against it and the TypeScript types are derived from it.
 * Every object is closed (unknown keys are errors) and every option has a description.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const closed = <T extends Record<string, TSchema>>(properties: T, description: string) =>
  Type.Object(properties, { additionalProperties: false, description });

/** Bytes as an integer, or a string such as "2GiB" or "512MiB". */
export const Size = Type.Union(
  [Type.Integer({ minimum: 1 }), Type.String({ pattern: '^[1-9][0-9]*(MiB|GiB|TiB)$' })],
  { description: 'a size: bytes as an integer, or a number followed by MiB, GiB or TiB (e.g. "2GiB")' },
);

const Repository = closed(
  {
    baseurl: Type.String({
      pattern: '^((https?|file)://\\S+|[^/:\\s][^:\\s]*)$',
      description: 'where the repository is: an http(s) or file URL, or a path under base.mirror (e.g. $releasever/BaseOS/$basearch/os); dnf expands $releasever and $basearch',
    }),
    gpgkey: Type.Optional(
      Type.String({
        pattern: '^((https?|file)://|/)\\S+$',
        description: 'the OpenPGP key its packages must be signed with: an http(s) or file URL, or an absolute path on the build host; it is never taken from base.mirror',
      }),
    ),
    gpgcheck: Type.Optional(
      Type.Boolean({ description: 'check every package signature against gpgkey (default true); a package that fails is not installed' }),
    ),
  },
  'an RPM repository of the el backend',
);

const Base = closed(
  {
    backend: Type.Union([Type.Literal('debian'), Type.Literal('el')], {
      description:
        'which distribution builds the root filesystem: debian (mmdebstrap) or el (dnf --installroot: CentOS Stream, AlmaLinux or Rocky Linux)',
    }),
    release: Type.String({
      minLength: 1,
      description: 'distribution release: the Debian suite (e.g. bookworm), or the EL major version dnf uses as $releasever (e.g. "9")',
    }),
    mirror: Type.Optional(
      Type.String({
        pattern: '^(https?|file)://\\S+$',
        description:
          "package mirror URL. debian: the archive; by default the host's configured package sources are used. el: the URL relative repository baseurls are under, so pointing it at another mirror moves every such repository",
      }),
    ),
    repositories: Type.Optional(
      Type.Record(Type.String(), Repository, {
        propertyNames: { pattern: '^[a-z0-9][a-z0-9_.-]*$', description: 'a repository id: lower-case letters, digits, "_", "." or "-"' },
        minProperties: 1,
        description: 'el backend: the RPM repositories by id (e.g. baseos, appstream); a recipe that extends another changes one by its id',
      }),
    ),
    packages: Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]*$' }), {
      uniqueItems: true,
      description: 'logical package names; each backend maps them to its own names',
    }),
  },
  'the base distribution and the packages installed into it',
);

const KernelBuild = closed(
  {
    source: Type.String({
      pattern: '\\.tar(\\.(xz|gz|bz2))?$',
      description:
        "the Linux source tarball on the build host (absolute, or relative to the project root), e.g. /usr/src/linux-source-6.1.tar.xz from Debian's linux-source-6.1 package; its sha256 is part of the cache key",
    }),
    fragments: Type.Array(Type.String({ pattern: '\\.config$' }), {
      minItems: 1,
      description:
        'config fragments relative to the project root, merged in order over the Kconfig defaults (make alldefconfig); every option they set must end up in the final .config, or the build stops naming it',
    }),
  },
  'how the appliance kernel is built',
);

const Cmdline = Type.Optional(
  Type.Array(Type.String({ pattern: '^[^\\s]+$' }), { description: 'extra kernel command-line arguments, one per item' }),
);

const DistroKernel = closed(
  {
    source: Type.Literal('distro', { description: "the base distribution's kernel package and initramfs (quick development builds)" }),
    cmdline: Cmdline,
  },
  "the base distribution's kernel",
);

const BuiltKernel = closed(
  {
    source: Type.Literal('build', { description: 'the kernel built from kernel.build' }),
    build: KernelBuild,
    cmdline: Cmdline,
  },
  "the appliance's own kernel",
);

/**
 * Which kernel the appliance boots: one of two forms, told apart by `source`, so ajv
 * reports the errors of the form the recipe chose (a layer that changes `source`
 * replaces its parent's `kernel` instead of merging into it).
 */
const Kernel = Type.Unsafe<Static<typeof DistroKernel> | Static<typeof BuiltKernel>>({
  type: 'object',
  discriminator: { propertyName: 'source' },
  oneOf: [DistroKernel, BuiltKernel],
  description: 'which kernel the appliance boots: source distro, or source build with kernel.build',
});

const User = closed(
  {
    name: Type.String({ pattern: '^[a-z_][a-z0-9_-]*$', description: 'login name' }),
    password: Type.String({
      minLength: 1,
      description: 'initial password (the documented appliance default; stored only as a hash in the image)',
    }),
    shell: Type.Optional(Type.String({ pattern: '^/', description: 'login shell, an absolute path in the image' })),
    groups: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z_][a-z0-9_-]*$' }), { description: 'supplementary groups' })),
  },
  'a console user',
);

const Wui = closed(
  {
    user: Type.String({ pattern: '^[a-z_][a-z0-9_-]*$', description: 'web interface login name' }),
    password: Type.String({ minLength: 1, description: 'initial web interface password (stored only as a hash in the image)' }),
  },
  'the web interface (WUI) login',
);

const Network = closed(
  {
    address: Type.String({
      pattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$',
      description: 'default IPv4 address of eth0 with prefix length, e.g. 192.168.2.21/24',
    }),
    gateway: Type.Optional(Type.String({ pattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}$', description: 'default gateway' })),
    nics: Type.Integer({ minimum: 1, maximum: 8, description: 'network adapters each VM target gets; only eth0 is connected at power-on' }),
  },
  'network defaults of the appliance',
);

const Milliseconds = (description: string) => Type.Integer({ minimum: 100, maximum: 600_000, description });

const Ha = closed(
  {
    heartbeat: closed(
      {
        keepaliveMs: Milliseconds('how often a node sends its heartbeat to the peer'),
        warntimeMs: Milliseconds('silence after which heartbeat logs a late-heartbeat warning; above keepaliveMs'),
        deadtimeMs: Milliseconds('silence after which the peer is declared dead and its floating IPs are taken over; above warntimeMs'),
        initdeadMs: Milliseconds('how long a starting node waits for its peer before taking over; at least twice deadtimeMs'),
      },
      "heartbeat's timers on an HA pair, written to /etc/loadbalancer/heartbeat.json, from which lbcli renders ha.cf",
    ),
  },
  'the clustered pair (lbcli --action ha-pair)',
);

const Unit = Type.String({
  pattern: '^[a-z][a-z0-9@_-]*(\\.(service|timer|socket|target|path|mount))?$',
  description: 'a systemd unit name, e.g. haproxy or apt-daily.timer (".service" may be left out)',
});

const Services = closed(
  {
    enable: Type.Array(Unit, { uniqueItems: true, description: 'systemd units enabled at boot' }),
    disable: Type.Array(Unit, { uniqueItems: true, description: 'systemd units installed but not started at boot' }),
    mask: Type.Optional(
      Type.Array(Unit, { uniqueItems: true, description: 'systemd units that never start, not even when another unit asks for them' }),
    ),
  },
  'which services start at boot',
);

const Disk = closed(
  {
    size: Size,
    dataSize: Type.Optional(
      Type.Union(Size.anyOf, {
        description:
          'size of the persistent data partition (ext4) beside the two root slots, kept across updates; default 256MiB. ' +
          'disk.size must hold it, the boot partitions and two root slots',
      }),
    ),
    boot: Type.Union([Type.Literal('bios'), Type.Literal('uefi'), Type.Literal('both')], {
      description: 'firmware the disk boots with',
    }),
  },
  'the raw disk every target is made from',
);

const Vm = closed(
  {
    cpus: Type.Integer({ minimum: 1, maximum: 64, description: 'virtual CPUs of VM targets' }),
    memoryMiB: Type.Integer({ minimum: 256, description: 'memory of VM targets in MiB' }),
  },
  'virtual hardware of the VM targets',
);

const Update = closed(
  {
    signingKey: Type.Optional(
      Type.String({
        minLength: 1,
        description:
          "the Ed25519 private key (PEM) that signs update bundles, relative to the project root; LBBUILD_UPDATE_SIGNING_KEY names another. The image's lb-update accepts only bundles signed with it",
      }),
    ),
  },
  'signed update bundles (--target update); without a key the image accepts no bundle',
);

/** The NIC drivers of the physical models, all built into the appliance's kernel (recipes/kernel/drivers.config). */
export const MODEL_NIC_DRIVERS = ['e1000e', 'igb', 'ixgbe', 'i40e'] as const;

const NicGroup = closed(
  {
    ports: Type.Integer({ minimum: 1, maximum: 8, description: 'how many ports of this kind the model has' }),
    driver: Type.Union(
      MODEL_NIC_DRIVERS.map((driver) => Type.Literal(driver)),
      { description: 'the kernel driver of these ports: e1000e or igb (1 GbE), ixgbe or i40e (10 GbE)' },
    ),
    location: Type.Union([Type.Literal('onboard'), Type.Literal('add-in')], {
      description: "where the ports are: on the mainboard, or on an add-in card",
    }),
  },
  'ports of one kind; they are named ethN in PCI order, after the ports of the groups listed before them',
);

const Model = closed(
  {
    id: Type.String({
      pattern: '^[a-z0-9]{1,16}$',
      description: 'the model, e.g. r20: the target physical-<id> builds it, and its lb-update takes only bundles made for it',
    }),
    product: Type.String({
      pattern: '^[A-Z0-9][A-Z0-9-]{0,23}$',
      description: 'what its artifacts are named after, e.g. LBHW-R20 (LBHW-R20-v8.0.img.xz)',
    }),
    nics: Type.Array(NicGroup, { minItems: 1, description: 'the network ports, in ethN order: eth0 is the first port of the first group' }),
    heartbeatSerial: Type.String({
      pattern: '^ttyS[1-9]$',
      description: "the serial port of the HA pair's heartbeat cable (lbcli ha-pair --heartbeat serial uses it); ttyS0 is the console",
    }),
  },
  'a physical model: the hardware its configuration is made for; a recipe with a model builds only its physical-<id> target',
);

const Audit = closed(
  {
    lynis: closed(
      {
        minimumIndex: Type.Integer({
          minimum: 0,
          maximum: 100,
          description: "the lowest Lynis hardening index the booted image may have; below it the build fails, naming the report",
        }),
      },
      "Lynis (the build host's Debian package lynis) run as root on the booted image; its index goes into manifest.json",
    ),
  },
  'security audits of the finished image, booted in QEMU',
);

const PackageName = Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]*$' });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'sha256 of the tarball, 64 lowercase hex digits' });

const Component = closed(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]*$', description: 'package name of the component, e.g. pound' }),
    version: Type.String({ pattern: '^[0-9][A-Za-z0-9.+~]*$', description: 'upstream version, also the package version, e.g. 4.23' }),
    source: Type.Union(
      [
        closed(
          {
            path: Type.String({ minLength: 1, description: 'tarball path relative to the project root, inside it' }),
            sha256: Sha256,
          },
          'a tarball in the project',
        ),
        closed({ url: Type.String({ pattern: '^https?://', description: 'where the tarball is downloaded from' }), sha256: Sha256 }, 'a tarball to download'),
        closed(
          {
            debian: closed(
              {
                package: Type.String({ pattern: '^[a-z0-9][a-z0-9+.-]+$', description: 'the Debian source package, e.g. pound' }),
                suite: Type.String({ pattern: '^[a-z][a-z0-9-]*$', description: 'the Debian suite that carries it, e.g. trixie' }),
                file: Type.String({
                  pattern: '^[A-Za-z0-9][A-Za-z0-9.+~_-]*\\.tar\\.(gz|xz|bz2)$',
                  description: 'the file of the source package to build, e.g. pound_4.16.orig.tar.gz',
                }),
              },
              "a file of a Debian source package, fetched through the host's apt configuration (its Debian archive, with a deb-src line for the suite)",
            ),
            sha256: Sha256,
          },
          'a tarball from the Debian archive',
        ),
      ],
      { description: 'the pinned source tarball (one top folder): a path, a url or a Debian source package file, with its sha256' },
    ),
    buildDepends: Type.Array(PackageName, {
      uniqueItems: true,
      description: 'logical package names installed in the clean build root besides build-essential',
    }),
    depends: Type.Array(PackageName, { uniqueItems: true, description: 'logical package names the produced package needs at run time' }),
    build: Type.Array(
      Type.Array(Type.String(), {
        minItems: 1,
        description: 'a command as an argument array (no shell); {destdir} and {jobs} are substituted',
      }),
      { minItems: 1, description: 'commands run in order in the unpacked source inside the build root; they install into {destdir}' },
    ),
    files: Type.Optional(
      Type.String({
        minLength: 1,
        description: "a folder relative to the project root copied over the package's files, e.g. a systemd unit and a default configuration",
      }),
    ),
  },
  'software built from a pinned source into a native package',
);

export const RecipeSchema = closed(
  {
    extends: Type.Optional(Type.String({ minLength: 1, description: 'a recipe this one layers on, relative to this file' })),
    name: Type.String({ minLength: 1, description: 'product name shown in VM descriptors' }),
    version: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)*$', description: 'appliance version, e.g. 8.0' }),
    hostname: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$', description: 'hostname of the appliance' }),
    base: Base,
    kernel: Kernel,
    overlays: Type.Array(Type.String({ minLength: 1 }), {
      description: "directories copied over the root filesystem in order, relative to the recipe's project root",
    }),
    users: Type.Array(User, { description: 'console users created or updated in the image' }),
    wui: Wui,
    network: Network,
    services: Services,
    disk: Disk,
    vm: Vm,
    components: Type.Optional(
      Type.Array(Component, { description: 'software built from pinned sources into native packages installed in the image' }),
    ),
    audit: Type.Optional(Audit),
    ha: Type.Optional(Ha),
    update: Type.Optional(Update),
    model: Type.Optional(Model),
  },
  'an lbbuild recipe',
);

export type Recipe = Static<typeof RecipeSchema>;
export type RecipeUser = Static<typeof User>;
export type RecipeKernel = Recipe['kernel'];
export type RecipeModel = NonNullable<Recipe['model']>;
