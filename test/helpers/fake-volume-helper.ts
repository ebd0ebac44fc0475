/**
 * The fake engine's side of capsule-volume (images/sandbox/capsule-volume): subvolumes in a map.
 * `enforced: false` answers the probe as a host without a btrfs root (the fallback).
 */
export class FakeVolumeHelper {
  enforced = false;
  readonly subvolumes = new Map<string, { limit: number; bytes: number; files: number }>();
  readonly commands: string[][] = [];
  /** Make the next command of this name fail (exit 1). */
  failNext: string | null = null;

  run(argv: string[]): { stdout: string; code: number } {
    const [, command, instance, ...args] = argv;
    this.commands.push([command!, ...args]);
    if (this.failNext === command) {
      this.failNext = null;
      return { stdout: '', code: 1 };
    }
    const key = (name: string) => `${instance}/${name}`;
    switch (command) {
      case 'probe':
        return { stdout: this.enforced ? 'fstype btrfs\nquota_mode squota\nnested_bounded yes\n' : 'fstype overlayfs\n', code: 0 };
      case 'create':
        for (let i = 0; i < args.length; i += 2) this.subvolumes.set(key(args[i]!), { limit: Number(args[i + 1]), bytes: 16384, files: 0 });
        return { stdout: args.filter((_, i) => i % 2 === 0).map((n, i) => `${n} ${256 + i}\n`).join(''), code: 0 };
      case 'usage':
        return { stdout: args.map((n) => { const v = this.subvolumes.get(key(n)); return v ? `${n} ${v.bytes} ${v.files}\n` : `${n} missing\n`; }).join(''), code: 0 };
      case 'delete':
        args.forEach((n) => this.subvolumes.delete(key(n)));
        return { stdout: args.map((n) => `${n} deleted\n`).join(''), code: 0 };
      case 'list':
        return { stdout: [...this.subvolumes.keys()].filter((k) => k.startsWith(`${instance}/`)).map((k) => `${k.slice(instance!.length + 1)}\n`).join(''), code: 0 };
      default:
        return { stdout: '', code: 2 };
    }
  }
}
