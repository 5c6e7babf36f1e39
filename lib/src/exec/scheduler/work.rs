//! Work waiting for a slot: a batch of ids, the attempt it is, and how far a batch that
//! crashed without saying which test did it has been narrowed down.

/// Ids waiting to run together in one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Work {
    /// Indexes into the run's ids, in order.
    pub(super) ids: Vec<usize>,
    /// 1 for the first run.
    pub(super) attempt: u32,
    /// The slot a retry keeps.
    pub(super) slot: Option<usize>,
    /// How far a crashed batch's ids without results have been narrowed down.
    pub(super) isolation: Isolation,
}

impl Work {
    /// A unit's ids as packed, for their first attempt.
    pub(super) fn first(ids: Vec<usize>) -> Self {
        Work {
            ids,
            attempt: 1,
            slot: None,
            isolation: Isolation::Batch,
        }
    }
}

/// Finding the test that crashed (or hung) a batch, when its report does not say: the ids
/// without a result run again together once; if that crashes too, each alone. A process of
/// one id that crashes blames that id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Isolation {
    /// A batch as packed.
    Batch,
    /// The ids without a result of a batch that crashed, run again together.
    Again,
    /// One id of a batch that crashed twice.
    Alone,
}

impl Isolation {
    /// The step after this one, for the ids a crash of this batch left without a result.
    pub(super) fn narrowed(self) -> Self {
        match self {
            Isolation::Batch => Isolation::Again,
            Isolation::Again | Isolation::Alone => Isolation::Alone,
        }
    }
}
