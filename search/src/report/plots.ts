import * as vega from 'vega';
import * as vl from 'vega-lite';

/** Renders a Vega-Lite spec to an SVG string at report time (no browser, no network). */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
