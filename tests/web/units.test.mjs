// web/assets/units.js formats figures as canopyd and the CLI do
// (core/unit.cc): the same table as tests/core/unit_test.cc, in node (no
// browser needed).

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {formatWithUnit, axisIncrs} from '../../web/assets/units.js';

const CASES = [
  [25769803776, 'bytes', '24 GiB'],
  [3456789012, 'bytes', '3.22 GiB'],
  [512, 'bytes', '512 B'],
  [1536.5, 'bytes/s', '1.5 KiB/s'],
  [-2048, 'bytes', '-2 KiB'],
  [13.6666, 'percent', '13.7 %'],
  [0.02137, 'percent', '0.0214 %'],
  [0.5, 'percent', '0.5 %'],
  [7200, 's', '2 h'],
  [900, 's', '15 min'],
  [3 * 86400 + 43200, 's', '3.5 d'],
  [42, 's', '42 s'],
  [0, 's', '0 s'],
  [0.25, 's', '250 ms'],
  [12.345, 'ms', '12.3 ms'],
  [1500, 'ms', '1.5 s'],
  [0.5, 'ms', '500 \u00b5s'],
  [250, 'us', '250 \u00b5s'],
  [2500, 'ns', '2.5 \u00b5s'],
  [12, 'ns', '12 ns'],
  [45374, '/s', '45374/s'],
  [0.123456, '/s', '0.123/s'],
  [1234567, '', '1,234,567'],
  [-1234, 'count', '-1,234'],
  [999, '', '999'],
  [1234.5678, '', '1235'],
  [0.123456, '', '0.123'],
  [0.00012345, '', '1.23e-4'],
  [999999999999999, '', '999,999,999,999,999'],
  [1.5e15, '', '1.5e+15'],
  [1.5e16, '', '1.5e+16'],
  [2.5e-8, 'count', '2.5e-8'],
  [3.14159, 'widgets', '3.14 widgets'],
  [100, '<b>', '100 <b>'],
  // Halves round up, as JavaScript's toFixed does (printf: to even).
  [21.25, 'percent', '21.3 %'],
  [100.5, '/s', '101/s'],
  [-2.125, 'percent', '-2.13 %'],
  [0.0625, '', '0.0625'],
  [0.00625, '', '0.00625'],
  [0.09995, '', '0.0999'],  // 0.0999499..., not a half
  [0.0995, '', '0.0995'],
  [9.995, '', '9.99'],
  [99.95, '', '100'],
  [1.125e15, '', '1.13e+15'],
  [9.995e15, '', '1e+16'],
  [9.9951e15, '', '1e+16'],
  [0.001, '', '0.001'],
];

test('formatWithUnit writes what canopy::FormatWithUnit writes', () => {
  for (const [v, unit, text] of CASES) {
    assert.equal(formatWithUnit(v, unit), text, `${v} ${unit}`);
  }
});

// Axis ticks of bytes fall on round binary figures (512 KiB, 2 GiB), never
// 488 KiB or 18.6 GiB; other units on 1, 2, 2.5 and 5 times powers of ten.
test('axisIncrs: binary steps for bytes, decimal ones otherwise', () => {
  for (const unit of ['bytes', 'bytes/s']) {
    for (const step of axisIncrs(unit)) {
      assert.ok(Number.isInteger(Math.log2(step)), `${step} is a power of two`);
      assert.ok(!/\./.test(formatWithUnit(step, unit)), `${step} reads ${formatWithUnit(step, unit)}`);
    }
  }
  for (const unit of ['', 'percent', 'ms']) {
    const steps = axisIncrs(unit);
    assert.ok(steps.includes(0.25) && steps.includes(5) && steps.includes(1e6));
    for (const step of steps) {
      const m = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      assert.ok([1, 2, 2.5, 5].some(x => Math.abs(m - x) < 1e-9), `${step}`);
    }
  }
});
