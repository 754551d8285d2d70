// Executing the steps of the expanded graph, one concept per header:
//
//   freshness.hpp         what must run: partitions compared with the ledger, whole nodes with
//                         their marker (the one place every runner and command asks)
//   ledger.hpp            per unit and partition: input stamps, definition, outputs written
//   partition_selection.hpp  listing and zipping inputs, filter/exclude/cached
//   planning.hpp          the slicer: retract, cut the dirty partitions, write the plan
//   slice_execution.hpp   a slice or plain node: call the nodes, append records, marker
//   barrier.hpp           every slice done and recorded before downstream runs
#pragma once

#include "steppar/barrier.hpp"
#include "steppar/freshness.hpp"
#include "steppar/planning.hpp"
#include "steppar/slice_execution.hpp"
