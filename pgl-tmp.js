const { PGlite } = require('@electric-sql/pglite');
const { vector } = require('@electric-sql/pglite/vector');
const fs = require('fs'), os = require('os'), path = require('path');
const tpl = fs.readdirSync('test-artifacts').filter(n => n.startsWith('pglite-template-') && !n.includes('.'))[0];
const mod = new WebAssembly.Module(fs.readFileSync(path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm')));
(async () => {
  for (const ext of [true, false, true, false]) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgl-'));
    fs.cpSync(path.join('test-artifacts', tpl), dir, { recursive: true });
    let c0 = process.cpuUsage(), t0 = Date.now();
    const db = await PGlite.create(dir, { extensions: ext ? { vector } : {}, pgliteWasmModule: mod });
    await db.query('select 1');
    let c = process.cpuUsage(c0);
    const c1 = process.cpuUsage(); 
    if (ext) await db.query("select '[1,2,3]'::vector <=> '[1,2,4]'::vector");
    const cq = process.cpuUsage(c1);
    console.log('open ext=' + ext, Date.now() - t0, 'ms', ((c.user + c.system) / 1e6).toFixed(2), 'cpu-s; first vector query', ((cq.user+cq.system)/1e6).toFixed(3));
    c0 = process.cpuUsage();
    await db.close();
    c = process.cpuUsage(c0);
    console.log('  close', ((c.user + c.system) / 1e6).toFixed(2));
    fs.rmSync(dir, { recursive: true });
  }
})();
