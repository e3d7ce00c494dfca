import { createHash } from 'node:crypto'
import type { RequestHandler } from 'express'

/** kue's list pages (views/job/list.pug), one per state, each with one inline script: `init('<state>')`. */
export const kueListStates = ['active', 'inactive', 'failed', 'complete', 'delayed'] as const

/**
 * The inline script of kue 0.11.6's list page for `state`, byte for byte as pug renders it. A kue
 * upgrade that changes it makes the dashboard test fail (it hashes the real pages' scripts), not the page.
 */
export const kueListScript = (state: string): string => `o(function(){\n  init('${state}');\n});\n\n`

/**
 * The style attributes kue's jQuery 1.5.2 writes through innerHTML to detect what the browser
 * supports (jquery.min.js, `style='...'`). Allowed by hash with 'unsafe-hashes' (these four exact
 * attributes, nothing else inline); refused, they are console errors and jQuery guesses its support.
 */
export const kueJqueryStyles = [
  'color:red;float:left;opacity:.55;',
  'width:4px;',
  'padding:0;border:0;display:none',
  'position:absolute;top:0;left:0;margin:0;border:5px solid #000;padding:0;width:1px;height:1px;',
] as const

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`

/**
 * The dashboard's pages run kue's own scripts and styles and nothing else: its five inline scripts
 * and jQuery's four style attributes are allowed by hash (no 'unsafe-inline'), its calls go to itself
 * only, and no other site may frame it (clickjacking a Restart or Delete button).
 */
export const dashboardCsp = [
  "default-src 'none'",
  `script-src 'self' ${kueListStates.map((state) => sha256(kueListScript(state))).join(' ')}`,
  `style-src 'self' 'unsafe-hashes' ${kueJqueryStyles.map(sha256).join(' ')}`,
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

/** The headers of every dashboard answer, pages, assets, JSON and errors alike. */
export const dashboardHeaders: Record<string, string> = {
  'Content-Security-Policy': dashboardCsp,
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // The page's URLs (job ids, states) stay on this site.
  'Referrer-Policy': 'same-origin',
}

export const pageHeaders: RequestHandler = (_req, res, next) => {
  res.set(dashboardHeaders)
  next()
}
