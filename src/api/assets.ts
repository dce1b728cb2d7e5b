/**
 * Files the app serves as they are, from the packages that ship them: the API reference's script at /docs (and
 * whatever else a page needs). Each runtime's `assets` port reads them (Node and Deno from node_modules; Workers
 * from its static assets, which `npm run build:assets` fills from this same table).
 */
export interface Asset {
  /** The URL path it is served at. */
  path: string;
  /** The npm package that ships it, and the file inside. */
  package: string;
  file: string;
  contentType: string;
}

export const ASSETS: readonly Asset[] = [
  // Scalar's standalone build: the /docs page loads it from here, not from a CDN, so the docs work offline.
  { path: '/docs/scalar.js', package: '@scalar/api-reference', file: 'dist/browser/standalone.js', contentType: 'text/javascript; charset=utf-8' },
];

/** Assets change only with the package version, which changes the deployment: a day is safe, and revalidated. */
export const ASSET_CACHE_CONTROL = 'public, max-age=86400, must-revalidate';
