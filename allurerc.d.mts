// The shape of allurerc.mjs that the report's browser check reads (its failure categories).
declare const config: {
  categories: Array<{ name: string; matchers: { statuses?: string[]; message?: RegExp } }>;
  [setting: string]: unknown;
};
export default config;
