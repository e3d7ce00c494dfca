import type { Row } from './context.ts'

export interface Report {
  mode: 'full' | 'smoke'
  startedAt: string
  seconds: number
  machine: { cpus: number; model: string; node: string; loadBefore: string; loadAfter: string }
  settings: Record<string, unknown>
  rows: Row[]
  notes: string[]
}

const format = (x: number): string => {
  if (!Number.isFinite(x)) return '-'
  if (Math.abs(x) >= 100) return x.toFixed(0)
  if (Math.abs(x) >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

const status = (row: Row): string => (row.met === undefined ? '' : row.met ? 'met' : 'NOT met')

export function table(rows: Row[]): string {
  const header = ['scenario', 'measure', 'median', 'min', 'max', 'unit', 'target', '']
  const lines = rows.map((r) => [r.scenario, r.measure + (r.note ? ` (${r.note})` : ''), format(r.value.median), format(r.value.min), format(r.value.max), r.unit, r.target ?? '', status(r)])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const pad = (cells: string[]) => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  return [pad(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(pad)].join('\n')
}

export function markdown(report: Report): string {
  const m = report.machine
  const rows = report.rows.map((r) =>
    `| ${r.scenario} | ${r.measure}${r.note ? ` (${r.note})` : ''} | ${format(r.value.median)} | ${format(r.value.min)} | ${format(r.value.max)} | ${r.unit} | ${r.target ?? ''} | ${status(r)} |`,
  )
  return `# Benchmark (${report.mode})

Started ${report.startedAt}, took ${report.seconds.toFixed(0)} s. ${m.cpus} × ${m.model}, Node ${m.node}.
Load average (1, 5, 15 min) before: ${m.loadBefore}; after: ${m.loadAfter}.
Each figure is the median of ${String(report.settings.runs)} run(s), with min and max; each ratio pairs figures of the same run.

| scenario | measure | median | min | max | unit | target | |
| --- | --- | ---: | ---: | ---: | --- | --- | --- |
${rows.join('\n')}

${report.notes.length > 0 ? `Notes:\n\n${report.notes.map((n) => `- ${n}`).join('\n')}\n` : ''}
Settings: \`${JSON.stringify(report.settings)}\`
`
}
