//! Rotation: round-robin over the active pipes, the mechanism under both load-balance
//! ([`LoadBalancer`](super::LoadBalancer)) and fair-queue ([`FairQueue`](super::FairQueue)).
//!
//! Active pipes sit at the front of the array, `[0, active)`; the cursor points into that
//! region at the pipe to try next. A pipe that refuses is swapped out of the region, which
//! brings an untried one under the cursor, so a step never revisits a pipe. Messages are whole
//! (the pipe carries multipart messages atomically), so the cursor moves on after each one.

use super::PipeArray;
use crate::pipe::PipeId;

/// Round-robin over the pipes that can take part now. `ATTACH_ACTIVE` says whether a new pipe
/// starts in the rotation (a writable pipe, for load-balance) or waits to be
/// [`activated`](Self::activated) (by its first message, for fair-queue).
#[derive(Clone, Debug, Default)]
pub struct Rotation<const ATTACH_ACTIVE: bool> {
    pub(super) pipes: PipeArray,
    active: usize,
    current: usize,
}

impl<const ATTACH_ACTIVE: bool> Rotation<ATTACH_ACTIVE> {
    /// An empty rotation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pipe, in the rotation if `ATTACH_ACTIVE`.
    pub fn attach(&mut self, id: PipeId) {
        if self.pipes.push(id) && ATTACH_ACTIVE {
            self.activated(id);
        }
    }

    /// Removes a pipe.
    pub fn detach(&mut self, id: PipeId) {
        let Some(p) = self.pipes.position(id) else {
            return;
        };
        let p = self.pipes.shrink_region(p, &mut self.active);
        let last = self.pipes.len() - 1;
        self.pipes.swap(p, last);
        self.pipes.pop();
        self.fix_current();
    }

    /// Puts a pipe (back) in the rotation: it became writable or readable again.
    pub fn activated(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            if p >= self.active {
                self.pipes.swap(p, self.active);
                self.active += 1;
            }
        }
    }

    /// The only pipe in the rotation, if exactly one is.
    pub(super) fn sole(&self) -> Option<PipeId> {
        (self.active == 1).then(|| self.pipes.get(0))
    }

    /// Takes a pipe out of the rotation until it is [`activated`](Self::activated).
    pub(super) fn deactivate(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.position(id) {
            self.pipes.shrink_region(p, &mut self.active);
            self.fix_current();
        }
    }

    fn fix_current(&mut self) {
        if self.current >= self.active {
            self.current = 0;
        }
    }

    /// Offers the pipes to `offer` in rotation, from the cursor on, until one accepts: `offer`
    /// gets the pipe and `state` and returns `Err(state)` to refuse, which deactivates that
    /// pipe. The cursor stays on the pipe that accepted. Gives `state` back if none does.
    fn find<S, T, F>(&mut self, mut state: S, mut offer: F) -> Result<(PipeId, T), S>
    where
        F: FnMut(PipeId, S) -> Result<T, S>,
    {
        while self.active > 0 {
            let id = self.pipes.get(self.current);
            match offer(id, state) {
                Ok(taken) => return Ok((id, taken)),
                Err(back) => {
                    state = back;
                    self.deactivate(id);
                }
            }
        }
        Err(state)
    }

    /// One round-robin step: [`find`](Self::find), then move the cursor past the pipe that
    /// accepted, so the next step starts with the pipe after it.
    pub(super) fn step<S, T, F>(&mut self, state: S, offer: F) -> Result<(PipeId, T), S>
    where
        F: FnMut(PipeId, S) -> Result<T, S>,
    {
        let found = self.find(state, offer);
        if found.is_ok() {
            // A compare, not `%`: a division per message shows in profiles.
            self.current += 1;
            if self.current >= self.active {
                self.current = 0;
            }
        }
        found
    }

    /// Whether some pipe is `ready`; deactivates the ones met on the way that are not. The
    /// cursor stays, so the next step starts with the ready pipe.
    pub(super) fn any_ready<F>(&mut self, mut ready: F) -> bool
    where
        F: FnMut(PipeId) -> bool,
    {
        self.find((), |id, ()| if ready(id) { Ok(()) } else { Err(()) })
            .is_ok()
    }

    /// Number of pipes attached (read by tests and the simulator's holdings check).
    #[cfg(any(test, feature = "sim"))]
    pub(crate) fn len(&self) -> usize {
        self.pipes.len()
    }

    /// The pipes in the rotation.
    #[cfg(test)]
    pub(crate) fn active(&self) -> &[PipeId] {
        self.pipes.slice(self.active)
    }
}
