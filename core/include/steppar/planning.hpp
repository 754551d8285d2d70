// The slicer step: what a unit over partitions must do now, written down as a plan. It runs in
// the host for every multinode and multipipeline (and for a plain node with a partition
// function, as a plan of one slice), or as `steppar-host run-slicer` in a cluster job.
//
//   assess (freshness.hpp) -> retract the outputs of partitions whose input is gone
//   -> cut the dirty partitions (only those) into N slices -> write the plan (plan.hpp)
//
// A rerun after one new file therefore plans one partition, and changing `slices` or `balance`
// reruns nothing that is up to date. Each plan gets a new generation and the old markers go.
#pragma once

#include "steppar/freshness.hpp"
#include "steppar/plan.hpp"
#include "steppar/project.hpp"

#include <string>

namespace steppar {

struct SlicerOptions {
    bool force = false;  ///< every selected partition is dirty
    std::string only;    ///< --partitions
    bool adopt = false;  ///< --only-missing: record outputs newer than their inputs without running
};

/// A plan as the slicer would write it now, with the assessment it comes from. Writes nothing
/// (for `plan` and `status`).
struct PlannedUnit {
    SlicePlan plan;
    Assessment assessment;
};
PlannedUnit plan_unit(Project& project, const Unit& unit, int slice_count, const SlicerOptions& options);

/// The slicer: assesses, retracts, records adoptions, writes the plan of the dirty partitions
/// and logs what it found ("count: 1 new, 0 changed, 7,527 up to date").
SlicePlan run_slicer(Project& project, const Unit& unit, int slice_count, const SlicerOptions& options = {});

}  // namespace steppar
