// Alarms raised on members (NOSPACE when the backend quota is exceeded, CORRUPT when
// members disagree). They are changed through the log, so every member holds the same
// set, and persisted in the backend's alarm bucket.
import type { Backend } from '../backend/backend.js';
import { AlarmType, type AlarmMember } from '../proto/etcdserverpb.js';

function alarmKey(a: AlarmMember): Buffer {
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(BigInt.asUintN(64, a.memberID), 0);
  b[8] = a.alarm;
  return b;
}

export class AlarmStore {
  private alarms: AlarmMember[] = [];

  constructor(private readonly backend: Backend) {}

  load(): void {
    this.alarms = [];
    for (const { key } of this.backend.range('alarm')) {
      this.alarms.push({ memberID: key.readBigUInt64BE(0), alarm: key[8]! as AlarmType });
    }
  }

  /** All alarms (NONE), or those of one type. */
  get(type: AlarmType): AlarmMember[] {
    return this.alarms.filter((a) => type === AlarmType.NONE || a.alarm === type).map((a) => ({ ...a }));
  }

  has(type: AlarmType): boolean {
    return this.alarms.some((a) => a.alarm === type);
  }

  get size(): number {
    return this.alarms.length;
  }

  /** Returns the alarm if it was newly raised. Must run inside a backend write group. */
  activate(memberID: bigint, alarm: AlarmType): AlarmMember | undefined {
    if (this.alarms.some((a) => a.memberID === memberID && a.alarm === alarm)) return undefined;
    const m = { memberID, alarm };
    this.alarms.push(m);
    this.backend.put('alarm', alarmKey(m), new Uint8Array(0));
    return { ...m };
  }

  /** Returns the alarm if it was active. Must run inside a backend write group. */
  deactivate(memberID: bigint, alarm: AlarmType): AlarmMember | undefined {
    const i = this.alarms.findIndex((a) => a.memberID === memberID && a.alarm === alarm);
    if (i < 0) return undefined;
    const [m] = this.alarms.splice(i, 1);
    this.backend.delete('alarm', alarmKey(m!));
    return { ...m! };
  }
}
