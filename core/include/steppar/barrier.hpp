// The barrier: a unit's slices are done, and verified, before anything downstream runs.
//
// It passes only when the pipeline's definition of the unit is still the one the plan was made
// with, every slice with partitions has its own success marker for the current plan (a process
// that exited 0 without one did not succeed), and every planned partition has a record in that
// slice's ledger segment for this plan's generation, made with the partition's definition (or is
// recorded as vanished: its input disappeared after slicing). Then it folds the ledger's segments
// into its base when that pays off (ledger.hpp). It never reads the outputs themselves.
#pragma once

#include "steppar/project.hpp"

namespace steppar {

/// Throws NodeError listing every slice that did not succeed and why.
void check_barrier(Project& project, const Unit& unit);

}  // namespace steppar
