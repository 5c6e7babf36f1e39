//! The timeline laid out: each node's processes as bars on its slots' lanes, in seconds from
//! the earliest node's start, with the bars too narrow to see joined; and drawn in text, one
//! line per node.

use super::record::{Bar, BarState, NodeRun, Stamp};

/// A bar as drawn: one process, or neighbouring processes too narrow to tell apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    /// Seconds from the origin.
    pub from: f64,
    pub to: f64,
    pub state: BarState,
    /// How many processes it stands for.
    pub processes: u32,
    pub tests: u32,
    /// The first process's number and first id.
    pub process: u64,
    pub first: String,
}

/// A node's lanes, slot 1 first.
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub label: String,
    /// Seconds from the origin; `None` when its report says nothing of when it ran.
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub lanes: Vec<Vec<Drawn>>,
}

/// Every node's band over a common time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub origin: Option<Stamp>,
    /// Seconds from the origin to the latest end.
    pub extent: f64,
    pub bands: Vec<Band>,
}

/// Bars narrower than this share of the axis are joined with their neighbours.
const FINEST: f64 = 1.0 / 1000.0;

impl Layout {
    /// Lays out `nodes` from `origin` (the earliest start).
    pub fn of(nodes: &[NodeRun], origin: Option<Stamp>, finish: Option<Stamp>) -> Layout {
        let extent = match (origin, finish) {
            (Some(o), Some(f)) => f.since(o).max(0.0),
            _ => 0.0,
        };
        let finest = extent * FINEST;
        let bands = nodes
            .iter()
            .map(|node| {
                let at = |s: Option<Stamp>| s.zip(origin).map(|(s, o)| s.since(o));
                let mut lanes: Vec<Vec<Drawn>> = vec![Vec::new(); node.slots()];
                for bar in node.bars() {
                    let lane = &mut lanes[bar.slot.max(1) - 1];
                    place(lane, bar, origin.unwrap_or(bar.start), finest);
                }
                Band {
                    label: node.label.clone(),
                    start: at(node.start()),
                    end: at(node.end()),
                    lanes,
                }
            })
            .collect();
        Layout {
            origin,
            extent,
            bands,
        }
    }

    /// How many bars are drawn in all.
    pub fn bars(&self) -> usize {
        self.bands.iter().flat_map(|b| &b.lanes).map(Vec::len).sum()
    }
}

/// Adds `bar` to its lane, joined to the last one drawn when both are too narrow to see.
fn place(lane: &mut Vec<Drawn>, bar: &Bar, origin: Stamp, finest: f64) {
    let (from, to) = (bar.start.since(origin), bar.end.since(origin));
    if let Some(last) = lane.last_mut()
        && to - from < finest
        && last.to - last.from < finest
        && from - last.to < finest
    {
        last.to = last.to.max(to);
        last.state = last.state.max(bar.state);
        last.processes += 1;
        last.tests += bar.tests;
        return;
    }
    lane.push(Drawn {
        from,
        to,
        state: bar.state,
        processes: 1,
        tests: bar.tests,
        process: bar.process,
        first: bar.first.clone(),
    });
}

/// Characters of the text timeline's longest line.
pub const TEXT_WIDTH: usize = 40;

/// One line per node: its label, then a cell per 1/40 of the run, shaded by how busy its slots
/// were then (`█` at least 3/4, `▓` half, `▒` a quarter, `░` less, blank idle or before its start
/// and after its end), then its wall time.
pub fn text(layout: &Layout) -> Vec<String> {
    let width = layout
        .bands
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let cell = layout.extent / TEXT_WIDTH as f64;
    layout
        .bands
        .iter()
        .map(|band| {
            let pad = " ".repeat(width - band.label.chars().count());
            let (Some(start), Some(end)) = (band.start, band.end) else {
                return format!("{}{pad} (its report records no process times)", band.label);
            };
            let cells: String = (0..TEXT_WIDTH)
                .map(|i| shade(band, i as f64 * cell, (i + 1) as f64 * cell))
                .collect();
            format!(
                "{}{pad} ▕{cells}▏ {:.1} s from +{:.1} s",
                band.label,
                end - start,
                start
            )
        })
        .collect()
}

/// The character for how busy `band`'s slots were from `from` to `to`.
fn shade(band: &Band, from: f64, to: f64) -> char {
    let slots = band.lanes.len().max(1) as f64;
    let span = (to - from).max(f64::MIN_POSITIVE);
    let busy: f64 = band
        .lanes
        .iter()
        .flatten()
        .map(|d| (d.to.min(to) - d.from.max(from)).max(0.0))
        .sum();
    let share = busy / (span * slots);
    match share {
        s if s >= 0.75 => '█',
        s if s >= 0.5 => '▓',
        s if s >= 0.25 => '▒',
        s if s > 0.0 => '░',
        _ => ' ',
    }
}
