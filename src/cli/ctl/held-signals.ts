// SIGINT and SIGTERM held from the first moment tsetcdctl runs, for the commands that end
// cleanly on them (lock and elect release what they hold). Node takes a while to load
// the command modules; a signal arriving meanwhile would otherwise kill the process
// before the command could install its own handler, which etcdctl (a Go binary,
// handling signals within milliseconds) never does.
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
const held: NodeJS.Signals[] = [];
const hold = (sig: NodeJS.Signals): void => void held.push(sig);

/** Starts holding the signals (call before loading anything heavy). */
export function holdSignals(): void {
  for (const sig of SIGNALS) process.on(sig, hold);
}

/** Hands the signals, those already held first, to the command's handler. */
export function takeSignals(onSignal: (sig: NodeJS.Signals) => void): void {
  for (const sig of SIGNALS) {
    process.off(sig, hold);
    process.on(sig, onSignal);
  }
  for (const sig of held.splice(0)) onSignal(sig);
}
