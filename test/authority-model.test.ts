import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { checkTrace } from '../src/check/run.js';
import { loadCatalog } from '../src/rules/catalog.js';
import { RuleEngine } from '../src/rules/engine.js';
import { AuthorityModel } from '../src/model/authority.js';
import type { Ev } from '../src/normalise/event.js';
import { tmpdir } from './helpers.js';

/*
 * The authority model on small canonical traces: each check at the line it belongs to, the deferred decision
 * between "before allocation" and "outside the ledger", extents, claimed regions, pools, teardown, and bounded
 * memory.
 */

const catalog = loadCatalog();
const dir = tmpdir();
let n = 0;

/** A brokered prologue: admin queues from the ledger, controller enabled by the manager (lines 1-9). */
const PROLOGUE = [
  'nvmeproof-canonical v1 producer=test lane=bounce-buffer',
  'ledger.alloc by=manager id=sq0 base=0x10000 len=0x1000 owner=manager purpose=admin-sq',
  'ledger.alloc by=manager id=cq0 base=0x11000 len=0x1000 owner=manager purpose=admin-cq',
  'ledger.alloc by=manager id=buf base=0x20000 len=0x4000 owner=manager purpose=bounce-data pool=pool0',
  'handle.grant by=kernel handle=pool0 cap=DMAPool holder=provider',
  'reg.write by=manager off=0x24 val=0x1f001f',
  'reg.write by=manager off=0x28 size=8 val=0x10000 ledger=sq0',
  'reg.write by=manager off=0x30 size=8 val=0x11000 ledger=cq0',
  'reg.write by=manager off=0x14 val=0x460001',
];

async function findings(body: string[], prologue = PROLOGUE): Promise<string[]> {
  const f = path.join(dir, `t${n++}.canon`);
  fs.writeFileSync(f, [...prologue, ...body].join('\n') + '\n');
  const r = await checkTrace(f, { catalog });
  return r.findings.map((x) => `${x.rule}@${x.line}`);
}
const L = (i: number): number => PROLOGUE.length + i; // 1-based line of body line i (1-based)

describe('addresses', () => {
  it('a conforming identify: nothing', async () => {
    expect(await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x20000 len=4096', 'db by=manager sq=0 val=1', 'cqe by=manager cq=0 sq=0 cid=0 status=0x0'])).toEqual([]);
  });

  it('an address in no region is decided at the end of the trace; one whose region comes later, at that region', async () => {
    expect(await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x90000 len=4096'])).toEqual([`authority-address-in-ledger@${L(1)}`]);
    expect(
      await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x90000 len=4096', 'ledger.alloc by=manager id=late base=0x90000 len=0x1000 owner=manager purpose=identify-data']),
    ).toEqual([`authority-region-allocated-before-use@${L(1)}`]);
  });

  it('a claimed region must hold the address; a claimed id allocated later is "before use"', async () => {
    expect(await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x20000 len=4096 ledger=cq0'])).toEqual([`authority-address-in-ledger@${L(1)}`]);
    expect(await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x90000 len=4096 ledger=nope'])).toEqual([`authority-address-in-ledger@${L(1)}`]);
    expect(
      await findings(['cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x90000 len=4096 ledger=x', 'ledger.alloc by=manager id=x base=0x90000 len=0x1000 owner=manager purpose=identify-data']),
    ).toEqual([`authority-region-allocated-before-use@${L(1)}`]);
  });

  it('extents: PRP1 to its page end, PRP2 as a page or a list, list entries, queue sizes', async () => {
    // the region is 0x20000..0x23fff; a 16 KiB read from 0x20000 fits exactly, from 0x20200 runs 512 bytes over
    expect(
      await findings([
        'cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x20000 prp2=0x21000 len=8192',
        'ledger.alloc by=manager id=list base=0x30000 len=0x1000 owner=manager purpose=prp-list',
        'cmd by=manager sq=0 cid=1 opc=0x02 nsid=1 slba=0 nlb=31 prp1=0x20200 prp2=0x30000 len=16384',
        'prp.list by=manager addr=0x30000 entries=0x21000,0x22000,0x23000,0x24000',
      ]),
    ).toEqual([`authority-address-in-ledger@${L(4)}`]); // the 4th entry lies past the region
    expect(
      await findings([
        'ledger.alloc by=manager id=cq1 base=0x40000 len=0x400 owner=manager purpose=io-cq',
        'cmd by=manager sq=0 cid=0 opc=0x05 qid=1 qsize=63 pc=1 ien=0 vector=0 prp1=0x40000 ledger=cq1',
        'cmd by=manager sq=0 cid=1 opc=0x05 qid=2 qsize=64 pc=1 ien=0 vector=0 prp1=0x40000 ledger=cq1',
      ]),
    ).toEqual([`authority-address-extent-in-region@${L(3)}`]); // 64 x 16 B fits 1 KiB, 65 do not
  });

  it('every address kind is judged for its author', async () => {
    const out = await findings([
      'ledger.alloc by=manager id=dbs base=0x50000 len=0x2000 owner=manager purpose=shadow',
      'ledger.alloc by=manager id=msi base=0xfee00000 len=0x1000 owner=manager purpose=msix-window',
      'cmd by=manager sq=0 cid=0 opc=0x7c prp1=0x50000 prp2=0x51000 prp1_by=provider',
      'msix.entry by=provider vector=0 addr=0xfee00000 data=0x4021',
      'cmd by=provider sq=0 cid=1 opc=0x06 cns=1 prp1=0x20000 len=4096',
      'cmd by=manager sq=0 cid=2 opc=0x05 qid=1 qsize=7 pc=1 prp1=0x20000 prp1_by=kernel',
    ]);
    expect(out).toEqual([L(3), L(4), L(5), L(6)].map((l) => `authority-address-manager-authored@${l}`));
  });

  it('a PRP list chained through next: the chain pointer and the next page are addresses too', async () => {
    const entries = Array.from({ length: 511 }, (_v, i) => '0x' + (0x100000 + i * 0x1000).toString(16)).join(',');
    const rest = Array.from({ length: 2 }, (_v, i) => '0x' + (0x100000 + (511 + i) * 0x1000).toString(16)).join(',');
    const body = [
      'ledger.alloc by=manager id=big base=0x100000 len=0x300000 owner=manager purpose=bounce-data',
      'ledger.alloc by=manager id=lists base=0x60000 len=0x1000 owner=manager purpose=prp-list',
      'cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x20000 len=4096',
      // 514 pages: PRP1, then 511 entries and a chain pointer on page 1, 2 entries on page 2 (next outside the ledger)
      `cmd by=manager sq=0 cid=1 opc=0x02 nsid=1 slba=0 nlb=4111 prp1=0x2ff000 prp2=0x60000 len=${514 * 4096}`,
      `prp.list by=manager addr=0x60000 entries=${entries} next=0x70000`,
      `prp.list by=manager addr=0x70000 entries=${rest}`,
    ];
    expect(await findings(body)).toEqual([`authority-address-in-ledger@${L(5)}`]);
  });
});

describe('registers, doorbells, handles, teardown', () => {
  it('ASQ/ACQ are checked when the controller is enabled, at the line that wrote them', async () => {
    const prologue = [...PROLOGUE];
    prologue[6] = 'reg.write by=manager off=0x28 size=8 val=0x12000';
    expect(await findings([], prologue)).toEqual(['authority-address-in-ledger@7']);
    prologue[6] = 'reg.write by=provider off=0x28 val=0x10000';
    expect(await findings([], prologue)).toEqual(['authority-admin-queue-regs-brokered@7']);
  });

  it('the provider may reset the controller, not enable it', async () => {
    expect(await findings(['reg.write by=provider off=0x14 val=0x460000', 'reg.write by=provider off=0x14 val=0x460001'])).toEqual([`authority-cc-reset-only@${L(2)}`]);
  });

  it('doorbells: brokered, and stale after the queue is deleted, the controller reset or torn down', async () => {
    const create = ['ledger.alloc by=manager id=q base=0x40000 len=0x2000 owner=manager purpose=io-queues', 'cmd by=manager sq=0 cid=0 opc=0x05 qid=1 qsize=7 pc=1 prp1=0x40000', 'cqe by=manager cq=0 sq=0 cid=0 status=0x0', 'cmd by=manager sq=0 cid=1 opc=0x01 qid=1 cqid=1 qsize=7 pc=1 prp1=0x41000', 'cqe by=manager cq=0 sq=0 cid=1 status=0x0'];
    expect(await findings([...create, 'db by=provider sq=1 val=1'])).toEqual([`authority-doorbell-brokered@${L(6)}`]);
    expect(await findings([...create, 'teardown by=kernel why=provider-exit queues=all', 'db by=manager sq=1 val=1', 'cqe by=manager cq=1 sq=1 cid=0 status=0x0'])).toEqual([
      `authority-stale-doorbell@${L(7)}`,
      `authority-stale-completion@${L(8)}`,
      `cmd-completion-matches@${L(8)}`,
    ]);
    expect(await findings([...create, 'reg.write by=manager off=0x14 val=0x460000', 'db by=manager sq=0 val=1'])).toEqual([`authority-stale-doorbell@${L(7)}`, `queue-doorbell-enabled@${L(7)}`]);
    expect(await findings([...create, 'ctrl.reset by=kernel why=flr', 'reg.write by=manager off=0x24 val=0x1f001f', 'reg.write by=manager off=0x28 size=8 val=0x10000', 'reg.write by=manager off=0x30 size=8 val=0x11000', 'reg.write by=manager off=0x14 val=0x460001', 'db by=manager sq=0 val=1'])).toEqual([]);
  });

  it('interrupts: a live Interrupt handle; revoked, or never granted, is stale', async () => {
    const grant = 'handle.grant by=kernel handle=irq1 cap=Interrupt holder=provider vector=1';
    expect(await findings([grant, 'irq.wait by=provider handle=irq1', 'irq.ack by=provider handle=irq1'])).toEqual([]);
    expect(await findings([grant, 'handle.revoke by=kernel handle=irq1 why=exit', 'irq.wait by=provider handle=irq1', 'irq.ack by=provider handle=irq2'])).toEqual([
      `authority-stale-interrupt@${L(3)}`,
      `authority-stale-interrupt@${L(4)}`,
    ]);
    // teardown without handles= revokes every live handle
    expect(await findings([grant, 'teardown by=kernel why=provider-exit', 'irq.wait by=provider handle=irq1'])).toEqual([`authority-stale-interrupt@${L(3)}`]);
  });

  it('stale addresses: a freed region, a revoked DMAPool; a region allocated again is fine', async () => {
    const id = 'cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x20000 len=4096';
    expect(await findings(['ledger.free by=manager id=buf', id])).toEqual([`authority-stale-address@${L(2)}`]);
    expect(await findings(['handle.revoke by=kernel handle=pool0', id])).toEqual([`authority-stale-address@${L(2)}`]);
    expect(await findings(['ledger.free by=manager id=buf', 'ledger.alloc by=manager id=buf2 base=0x20000 len=0x1000 owner=manager purpose=identify-data', id])).toEqual([]);
  });

  it('owner and exposure flags', async () => {
    expect(await findings(['ledger.alloc by=manager id=p base=0x80000 len=0x1000 owner=provider purpose=provider-buffer', 'cmd by=manager sq=0 cid=0 opc=0x06 cns=1 prp1=0x80000 len=4096'])).toEqual([
      `authority-region-manager-owned@${L(2)}`,
    ]);
    expect(
      await findings([
        'dma.policy by=kernel host_physical_user_visible=1 iova_export=enabled direct_dma=allowed',
        'dma.policy by=kernel lane=direct-remapping direct_dma=allowed iova_export=disabled-future-only host_physical_user_visible=0',
      ]),
    ).toEqual([`authority-direct-dma-blocked@${L(1)}`, `authority-host-physical-hidden@${L(1)}`, `authority-iova-not-exported@${L(1)}`]);
  });
});

describe('bounded state', () => {
  it('memory follows live regions and handles, not the trace', () => {
    const engine = new RuleEngine(catalog, 'x');
    const m = new AuthorityModel('x', engine, { dstrd: 0 });
    const ev = (kind: string, f: Ev['f'], line: number): Ev => ({ kind, line, raw: '', author: 'manager', f });
    let line = 0;
    for (let i = 0; i < 12_000; i++) {
      m.consume(ev('ledger.alloc', { id: `r${i}`, base: 0x100000 + (i % 64) * 0x1000, len: 0x1000, owner: 'manager', purpose: 'bounce-data' }, ++line));
      m.consume(ev('cmd.submit', { sqid: 0, cid: i & 0xffff, opc: 6, admin: true }, ++line));
      m.consume(ev('cmd.prp', { prp1: 0x100000 + (i % 64) * 0x1000, len: 4096, first_len: 4096 }, line));
      m.consume(ev('ledger.free', { id: `r${i}` }, ++line));
      // addresses outside the ledger wait for a region or the end of the trace, up to a bound
      m.consume(ev('cmd.prp', { prp1: 0x9000000 + i * 0x1000, len: 4096, first_len: 4096 }, line));
    }
    const s = m.liveState();
    expect(s.regions).toBe(0);
    expect(s.pending).toBeLessThanOrEqual(10_000);
    m.finish();
    expect(m.liveState().pending).toBe(0);
    expect(engine.findings.filter((f) => f.rule !== 'authority-address-in-ledger')).toEqual([]);
  });
});

describe('queue deletion', () => {
  it('a queue ends when its Delete command succeeds; a failed delete leaves it live', async () => {
    const create = ['ledger.alloc by=manager id=q base=0x40000 len=0x2000 owner=manager purpose=io-queues', 'cmd by=manager sq=0 cid=0 opc=0x05 qid=1 qsize=7 pc=1 prp1=0x40000', 'cqe by=manager cq=0 sq=0 cid=0 status=0x0'];
    expect(await findings([...create, 'cmd by=manager sq=0 cid=1 opc=0x04 qid=1', 'cqe by=manager cq=0 sq=0 cid=1 status=0x10c', 'db by=manager cq=1 val=0'])).toEqual([`queue-delete-order@${L(5)}`]);
    expect(await findings([...create, 'cmd by=manager sq=0 cid=1 opc=0x04 qid=1', 'cqe by=manager cq=0 sq=0 cid=1 status=0x0', 'db by=manager cq=1 val=0'])).toEqual([
      `authority-stale-doorbell@${L(6)}`,
      `queue-doorbell-exists@${L(6)}`,
    ]);
  });
});
