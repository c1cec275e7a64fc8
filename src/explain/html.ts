// report.html of `slimnet explain`: one self-contained page — the overlay
// grids embedded as base64 PNG data URIs, the metric tables as HTML tables,
// inline CSS, no script and no external asset — so it opens from the file
// system and can be mailed as one file. The page is built from plain data
// (the workflow fills it in); every text is escaped here.

export interface HtmlTable {
  caption: string;
  headers: readonly string[];
  rows: readonly (readonly (string | number)[])[];
  /** A sentence under the caption (what the numbers mean). */
  note?: string;
}

export interface HtmlFigure {
  caption: string;
  png: Uint8Array;
  alt: string;
}

export interface HtmlSection {
  heading: string;
  /** Paragraphs before the figures and tables. */
  paragraphs?: readonly string[];
  figures?: readonly HtmlFigure[];
  tables?: readonly HtmlTable[];
}

export interface ExplainPage {
  title: string;
  /** Key facts as a two-column list (models, data, methods, targets). */
  facts: readonly (readonly [string, string])[];
  /** Warnings of the methods (all-negative CAMs, completeness gaps), one line each. */
  warnings: readonly string[];
  sections: readonly HtmlSection[];
}

/** What each metric means, in the page's words (also used by the CLI's help). */
export const METRIC_NOTES = {
  deletion:
    'Deletion AUC (RISE): pixels are set to the data mean in order of attribution, most important first, and the target class probability is tracked; the area under that curve is lower when the map found the pixels the model really relies on (lower is better).',
  insertion:
    'Insertion AUC (RISE): pixels are revealed on a blurred copy of the image in the same order; the area is higher when the first pixels revealed are the ones that restore the prediction (higher is better).',
  spearman:
    "Spearman correlation: the rank correlation of two models' maps of the same image and method, both brought to the input resolution; 1 means the same ordering of pixels, 0 none (a constant map counts as 0).",
  iou: 'Top-20 % IoU: the overlap (intersection over union) of the 20 % most important pixels of the two maps; 1 means the same pixels.',
  disagreement:
    'Disagreements: the images on which the models predict different classes (for a pruned model, the examples pruning "forgot", Hooker et al. 2019).',
  sanity:
    'Model-randomisation sanity check (Adebayo et al. 2018): the layers of the first model are re-initialised one by one from the output down, cumulatively, and the maps recomputed; the Spearman correlation with the original maps should fall. A method whose maps stay the same explains the image, not the model.',
} as const;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

const CSS = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.facts dt{font-weight:600}dl.facts dd{margin:0}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}th,td{border:1px solid #ccc;padding:.2em .6em}th{background:#f3f3f3}
td.n{text-align:right;font-variant-numeric:tabular-nums}caption{text-align:left;font-weight:600;padding:.3em 0}
p.note{color:#555;font-size:.9em;margin:.2em 0}figure{margin:1em 0;overflow-x:auto}figcaption{color:#555;font-size:.9em}
ul.warnings{color:#8a4b00}img{image-rendering:pixelated}`;

function table(t: HtmlTable): string {
  const head = `<tr>${t.headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c) => (typeof c === 'number' ? `<td class="n">${esc(String(c))}</td>` : `<td>${esc(c)}</td>`)).join('')}</tr>`).join('\n');
  return `<table><caption>${esc(t.caption)}</caption>\n${head}\n${body}\n</table>${t.note ? `\n<p class="note">${esc(t.note)}</p>` : ''}`;
}

function figure(f: HtmlFigure): string {
  const b64 = Buffer.from(f.png.buffer, f.png.byteOffset, f.png.byteLength).toString('base64');
  return `<figure><img src="data:image/png;base64,${b64}" alt="${esc(f.alt)}"><figcaption>${esc(f.caption)}</figcaption></figure>`;
}

/** The whole page as HTML text. */
export function explainHtml(page: ExplainPage): string {
  const parts: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(page.title)}</title>`,
    `<style>${CSS}</style></head><body>`,
    `<h1>${esc(page.title)}</h1>`,
    `<dl class="facts">${page.facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`,
  ];
  if (page.warnings.length) parts.push(`<h2>Warnings</h2><ul class="warnings">${page.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`);
  for (const s of page.sections) {
    parts.push(`<h2>${esc(s.heading)}</h2>`);
    for (const p of s.paragraphs ?? []) parts.push(`<p>${esc(p)}</p>`);
    for (const f of s.figures ?? []) parts.push(figure(f));
    for (const t of s.tables ?? []) parts.push(table(t));
  }
  parts.push('</body></html>', '');
  return parts.join('\n');
}
