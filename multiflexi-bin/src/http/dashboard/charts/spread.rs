//! Percentiles per category (per day: p50, p90 and p99 of run time, queue wait or peak
//! memory): a bar to the median, a thin line up to p99, a tick at p90.

use super::frame::{Frame, Limit, Meta, chart, label, n};
use maud::{Markup, html};
use multiflexi_core::store::Percentiles;

/// One category's percentiles (already in the chart's unit).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spread {
    /// The category (a day).
    pub label: String,
    /// Its percentiles; `None` leaves the slot empty.
    pub p: Option<Percentiles>,
}

/// A percentile chart of `spreads`, with `limit` drawn across.
pub(crate) fn spread_chart(meta: Meta<'_>, spreads: &[Spread], limit: Option<&Limit>) -> Markup {
    let max = spreads
        .iter()
        .filter_map(|s| s.p.map(|p| p.p99))
        .chain(limit.map(|l| l.value))
        .fold(0.0, f64::max);
    let f = Frame::new(spreads.len(), max);
    let w = (f.slot() * 0.6).max(1.0);
    let labels: Vec<String> = spreads.iter().map(|s| s.label.clone()).collect();
    let marks = html! {
        @for (i, s) in spreads.iter().enumerate() {
            @if let Some(p) = s.p {
                @let mid = f.x(i) + f.slot() / 2.0;
                g.spread data-p50=(p.p50) data-p90=(p.p90) data-p99=(p.p99) {
                    title { (s.label) ": p50 " (label(p.p50)) ", p90 " (label(p.p90)) ", p99 "
                        (label(p.p99)) " " (meta.unit) " (" (p.count)
                        @if p.count == 1 { " job)" } @else { " jobs)" } }
                    rect.p50 x=(n(mid - w / 2.0)) y=(n(f.y(p.p50))) width=(n(w))
                        height=(n(f.base() - f.y(p.p50))) {}
                    line.p99 x1=(n(mid)) y1=(n(f.y(p.p50))) x2=(n(mid)) y2=(n(f.y(p.p99))) {}
                    line.p90 x1=(n(mid - w / 2.0)) y1=(n(f.y(p.p90))) x2=(n(mid + w / 2.0)) y2=(n(f.y(p.p90))) {}
                }
            }
        }
    };
    chart(meta, f, &labels, limit, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_bar_p90_tick_and_p99_whisker() {
        let p = Percentiles {
            count: 5,
            p50: 2.0,
            p90: 4.0,
            p99: 8.0,
        };
        let spreads = [
            Spread {
                label: "01-05".into(),
                p: Some(p),
            },
            Spread {
                label: "01-06".into(),
                p: None,
            },
        ];
        let meta = Meta {
            id: "w",
            title: "Queue wait",
            desc: "d",
            unit: "s",
        };
        let svg = spread_chart(meta, &spreads, None).into_string();
        assert_eq!(
            svg.matches("class=\"spread\"").count(),
            1,
            "an empty day draws nothing"
        );
        let f = Frame::new(2, 8.0);
        assert!(
            svg.contains(&format!("height=\"{}\"", n(f.base() - f.y(2.0)))),
            "{svg}"
        );
        assert!(svg.contains(&format!("y2=\"{}\"", n(f.y(8.0)))), "{svg}");
        assert!(svg.contains("p50 2, p90 4, p99 8 s (5 jobs)"), "{svg}");
    }
}
