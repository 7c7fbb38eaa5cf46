//! Server-rendered SVG charts: pure functions from numbers to markup, no script.
//!
//! Every chart is an `<svg role="img">` with a `<title>` and a `<desc>` (`aria-labelledby`),
//! each mark carries its own `<title>` (a tooltip and a screen-reader label), and colours are
//! the dashboard's badge classes (`bg-success`, `bg-danger`, …: `fill` set in the stylesheet),
//! so a chart's outcome colours are the badges' colours. No inline `style` (the dashboard's
//! Content-Security-Policy forbids it): geometry is in attributes. The pages put a table of
//! the same numbers next to each chart.

mod bars;
mod frame;
mod spread;
mod stacked;

pub(crate) use bars::{Bar, bar_chart};
pub(crate) use frame::{Limit, Meta};
pub(crate) use spread::{Spread, spread_chart};
pub(crate) use stacked::{Column, Part, stacked_chart};
