/**
 * Drives a serial console the way a person at the keyboard would: wait for text,
 * type a line, read the answer. Everything the guest prints is kept as a transcript.
 */
import type { Readable, Writable } from 'node:stream';

/** Colour and cursor escapes and carriage returns, which matter to a terminal and not to us. */
const TERMINAL_NOISE = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r/g;

export class ConsoleTimeout extends Error {
  override name = 'ConsoleTimeout';
}

export class SerialConsole {
  private text = '';
  /** The start of an escape sequence cut off at the end of the last chunk. */
  private pending = '';
  private position = 0;
  private waiters = new Set<() => void>();
  private closed = false;
  private commandCount = 0;

  constructor(output: Readable, private readonly input: Writable) {
    output.on('data', (chunk: Buffer) => {
      const raw = this.pending + chunk.toString('utf8');
      const cut = /\x1b(\[[0-9;?]*)?$/.exec(raw);
      this.pending = cut ? cut[0] : '';
      this.text += raw.slice(0, cut ? cut.index : raw.length).replace(TERMINAL_NOISE, '');
      for (const wake of this.waiters) wake();
    });
    output.on('close', () => {
      this.closed = true;
      for (const wake of this.waiters) wake();
    });
  }

  /** Everything printed so far. */
  get transcript(): string {
    return this.text;
  }

  /** Waits for `pattern` after the previous match; returns the match and what preceded it. */
  async expect(pattern: RegExp | string, timeoutMs: number): Promise<{ match: RegExpExecArray; before: string }> {
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.text.slice(this.position);
      const match = regex.exec(rest);
      if (match) {
        this.position += match.index + match[0].length;
        return { match, before: rest.slice(0, match.index) };
      }
      if (this.closed) throw new ConsoleTimeout(`the VM stopped before printing ${regex}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new ConsoleTimeout(`no ${regex} on the console within ${Math.round(timeoutMs / 1000)} s`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const wake = () => done();
        function done() {
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        }
        const waiters = this.waiters;
        waiters.add(wake);
      });
    }
  }

  send(text: string): void {
    this.input.write(text);
  }

  sendLine(line: string): void {
    this.send(`${line}\r`);
  }

  /** Answers a login prompt the caller has already seen. */
  async login(user: string, password: string): Promise<void> {
    this.sendLine(user);
    await this.expect('Password:', 20_000);
    this.sendLine(password);
  }

  /** After login as root: a prompt we can recognise and a quiet console. */
  async prepareShell(): Promise<void> {
    await this.expect(/[#$] $/m, 30_000);
    // Typed as 'lbtest''# ' so that the echo of this line never looks like the new prompt.
    this.sendLine("export PS1='lbtest''# '; stty cols 1000; bind 'set enable-bracketed-paste off'; dmesg -n 1");
    await this.expect(/lbtest# $/m, 20_000);
  }

  /** Runs a shell command, returning its output and exit status. */
  async run(command: string, timeoutMs = 60_000): Promise<{ output: string; status: number }> {
    const marker = `__lbtest_${++this.commandCount}_`;
    this.sendLine(`${command}; echo "${marker}$?__"`);
    const { match, before } = await this.expect(new RegExp(`${marker}(\\d+)__\\n`), timeoutMs);
    await this.expect(/lbtest# $/m, 10_000);
    const lines = before.split('\n');
    return { output: lines.slice(1).join('\n').trim(), status: Number(match[1]) };
  }

  /** Like run(), but a non-zero status is an error naming the command. */
  async check(command: string, timeoutMs = 60_000): Promise<string> {
    const { output, status } = await this.run(command, timeoutMs);
    if (status !== 0) throw new Error(`"${command}" exited ${status}:\n${output}`);
    return output;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
