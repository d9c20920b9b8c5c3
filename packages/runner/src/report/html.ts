import type { ConfigSummary } from './aggregate.ts';
import type { Chart } from './charts.ts';
import { distillationNote, distillationTable } from './distill.ts';
import {
  failedRunsTable,
  methodNote,
  provenance,
  type ReportContext,
  settingTables,
  type Table,
} from './markdown.ts';
import {
  paperReproductionNote,
  paperReproductionTable,
  pretrainingBesideNote,
  pretrainingBesideTable,
} from './paper.ts';

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function htmlTable(table: Table): string {
  const head = table.headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = table.rows
    .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

export const reportStyle = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; margin: .8rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; } th { background: #f3f3f3; }
.note { color: #555; font-size: .9rem; } figure { margin: 1rem 0; } figcaption { color: #555; font-size: .85rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
`;

/** A single self-contained page: tables and inline SVG charts, no scripts and nothing fetched. */
export function reportHtml(
  context: ReportContext,
  summaries: ConfigSummary[],
  charts: Chart[],
  extra: { note?: string; sections?: Array<{ setting: string; tables: Table[]; note?: string }> } = {},
): string {
  const sections: string[] = [];
  const paper = paperReproductionTable(summaries);
  const pretraining = pretrainingBesideTable(summaries);
  if (paper)
    sections.push(
      `<section data-section="paper">\n<h2>${escapeHtml(paper.title)}</h2>\n` +
        `<p class="note">${escapeHtml(paperReproductionNote)}</p>\n${htmlTable(paper)}\n` +
        (pretraining
          ? `<h3>${escapeHtml(pretraining.title)}</h3>\n<p class="note">${escapeHtml(pretrainingBesideNote)}</p>\n` +
            `${htmlTable(pretraining)}\n`
          : '') +
        '</section>',
    );
  for (const table of settingTables(summaries)) {
    const setting = table.title.split(':')[0] as string;
    const figures = charts
      .filter((c) => c.setting === setting)
      .map(
        (c) =>
          `<figure class="chart" data-chart="${c.kind}" data-setting="${escapeHtml(c.setting)}" ` +
          `aria-label="${escapeHtml(c.title)}">\n${c.svg}\n</figure>`,
      )
      .join('\n');
    sections.push(
      `<section data-setting="${escapeHtml(setting)}">\n<h2>${escapeHtml(table.title)}</h2>\n${htmlTable(table)}\n` +
        `<div class="charts">\n${figures}\n</div>\n</section>`,
    );
  }
  const distillation = distillationTable(summaries);
  if (distillation)
    sections.push(
      `<section data-section="distillation">\n<h2>${escapeHtml(distillation.title)}</h2>\n` +
        `<p class="note">${escapeHtml(distillationNote)}</p>\n${htmlTable(distillation)}\n</section>`,
    );
  for (const extraSection of extra.sections ?? []) {
    const figures = charts
      .filter((c) => c.setting === extraSection.setting)
      .map(
        (c) =>
          `<figure class="chart" data-chart="${c.kind}" data-setting="${escapeHtml(c.setting)}" ` +
          `aria-label="${escapeHtml(c.title)}">\n${c.svg}\n</figure>`,
      )
      .join('\n');
    const tables = extraSection.tables
      .map((t) => `<h2>${escapeHtml(t.title)}</h2>\n${htmlTable(t)}`)
      .join('\n');
    const note = extraSection.note ? `<p class="note">${escapeHtml(extraSection.note)}</p>\n` : '';
    sections.push(
      `<section data-setting="${escapeHtml(extraSection.setting)}">\n${tables}\n${note}<div class="charts">\n${figures}\n</div>\n</section>`,
    );
  }
  const failed = failedRunsTable(context.runs);
  if (failed)
    sections.push(`<section>\n<h2>${escapeHtml(failed.title)}</h2>\n${htmlTable(failed)}\n</section>`);
  return htmlPage(context, extra.note ?? methodNote, sections);
}

/** A self-contained report page: title, description, provenance, the method note, then the sections. */
export function htmlPage(context: ReportContext, note: string, sections: string[]): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>reptile-bench: ${escapeHtml(context.sweep)}</title>
<style>${reportStyle}</style>
</head>
<body>
<h1>Sweep <code>${escapeHtml(context.sweep)}</code></h1>
${context.description ? `<p>${escapeHtml(context.description)}</p>` : ''}
<p class="note">Runs up to ${escapeHtml(context.generatedAt.toISOString())} — ${escapeHtml(provenance(context))}.</p>
<p class="note">${escapeHtml(note)}</p>
${sections.join('\n')}
</body>
</html>
`;
}
