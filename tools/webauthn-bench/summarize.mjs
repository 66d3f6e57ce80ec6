// Summarises the JSON lines of a webauthn-bench.sh run as a Markdown table.
//
// Usage: node summarize.mjs RESULTS.jsonl CASES.json
//
// A rate per core is operations per second of process CPU time (user plus system, all
// threads). The ratio of a round is idsvc's rate divided by simplewebauthn's rate in the
// same round. The table shows the median of these ratios next to the medians of the
// rates.

import { readFileSync } from 'node:fs';

function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function formatRate(value) {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

function formatRatio(value) {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}

const [resultsPath, casesPath] = process.argv.slice(2);
if (!resultsPath || !casesPath) {
  process.stderr.write('usage: node summarize.mjs RESULTS.jsonl CASES.json\n');
  process.exit(2);
}
const lines = readFileSync(resultsPath, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line));
const cases = JSON.parse(readFileSync(casesPath, 'utf8')).cases;

// rates[case][side] is a list of { round, perCpu, perWall }.
const rates = {};
const problems = [];
for (const line of lines) {
  if (line.rejected || line.skipped) {
    problems.push(`${line.side} ${line.case}: ${line.rejected ?? line.skipped}`);
    continue;
  }
  if (!(line.ops > 0)) continue;
  rates[line.case] ??= {};
  rates[line.case][line.side] ??= [];
  rates[line.case][line.side].push({
    round: line.round,
    perCpu: line.ops / line.cpu_s,
    perWall: line.ops / line.wall_s,
  });
}

function sideMedian(name, side, key) {
  return median((rates[name]?.[side] ?? []).map((entry) => entry[key]));
}

function roundRatios(name) {
  const ours = rates[name]?.idsvc ?? [];
  const theirs = rates[name]?.simplewebauthn ?? [];
  const ratios = [];
  for (const entry of ours) {
    const other = theirs.find((candidate) => candidate.round === entry.round);
    if (other) ratios.push(entry.perCpu / other.perCpu);
  }
  return ratios;
}

const rows = [
  '| case | ceremony | input | idsvc /s per core | simplewebauthn /s per core | ratio (median of rounds) | idsvc /s wall | simplewebauthn /s wall |',
  '|---|---|---|---:|---:|---:|---:|---:|',
];
for (const testCase of cases) {
  const name = testCase.name;
  if (!rates[name]) continue;
  const ratios = roundRatios(name);
  const compared = testCase.compare !== false;
  rows.push(
    `| ${name} | ${testCase.ceremony} | ${testCase.source} | ` +
      `${formatRate(sideMedian(name, 'idsvc', 'perCpu'))} | ` +
      `${compared ? formatRate(sideMedian(name, 'simplewebauthn', 'perCpu')) : 'not compared'} | ` +
      `${compared ? formatRatio(median(ratios)) : '-'} | ` +
      `${formatRate(sideMedian(name, 'idsvc', 'perWall'))} | ` +
      `${compared ? formatRate(sideMedian(name, 'simplewebauthn', 'perWall')) : '-'} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);

// Raw OpenSSL verification rates from `openssl speed`, for scale.
const raw = {};
for (const line of lines) {
  if (line.side !== 'openssl') continue;
  raw[line.case] ??= [];
  raw[line.case].push(line.verify_per_s);
}
if (Object.keys(raw).length > 0) {
  process.stdout.write('\n| raw operation (openssl speed) | verifications/s per core |\n|---|---:|\n');
  for (const [name, values] of Object.entries(raw)) {
    process.stdout.write(`| ${name} | ${formatRate(median(values))} |\n`);
  }
}

const roundsSeen = new Set(lines.map((line) => line.round).filter((round) => round !== undefined));
process.stdout.write(`\nrounds: ${roundsSeen.size}\n`);
if (problems.length > 0) {
  process.stdout.write(`\nnot timed:\n${[...new Set(problems)].map((p) => `- ${p}`).join('\n')}\n`);
}
