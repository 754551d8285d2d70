// Vouching: the one rule for "does this marker vouch for this step of this plan", and the one
// decision "does this step still have to run". Every path asks here: the local scheduler (its
// work decision and its check after a step ends), the barrier, the barrier's wait, `run-slice`
// and `run-node` (by hand, exec'd, or as cluster jobs), the Slurm runner (what to submit, its
// progress, and its check after Slurm says a task COMPLETED), the launcher's failure report and
// `status`.
//
// A marker vouches for a step only when all four hold:
//   - it is a success marker,
//   - of the step's unit,
//   - of the step's slice (-1 for a whole-function node),
//   - of the step's plan (the plan id; "" for a whole-function node, which has no plan).
// A marker that is of the step (unit, slice, plan) but failed says why the step failed; any
// other marker (another unit's, another slice's, an earlier plan's) says nothing about it. A
// damaged marker (its seal broken) says nothing either, and is reported as such.
//
// A whole-function node's marker must also carry the fingerprint of the node's inputs and
// definition now, and every file it wrote must still be as it left it (freshness.hpp).
#pragma once

#include "steppar/marker.hpp"
#include "steppar/plan.hpp"
#include "steppar/project.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace steppar {

/// The step a marker is asked about.
struct StepIdentity {
    std::string_view unit;
    int slice = -1;             ///< -1: a whole-function node
    std::string_view plan_id;   ///< "": a whole-function node
};

/// What a step's marker says about it.
enum class MarkerVerdict {
    missing,   ///< no marker: the step has not finished
    damaged,   ///< unreadable or its seal broken: proves nothing
    foreign,   ///< of another unit, slice or plan (stale): proves nothing
    failed,    ///< this step's, and it failed
    vouches,   ///< this step's, and it succeeded
};
const char* to_string(MarkerVerdict verdict);

/// The rule itself, on a marker in memory.
MarkerVerdict judge_marker(const Marker& marker, const StepIdentity& step);
inline bool marker_vouches(const Marker& marker, const StepIdentity& step) {
    return judge_marker(marker, step) == MarkerVerdict::vouches;
}

/// A step's marker as read from the state folder, with the verdict on it.
struct MarkerReading {
    MarkerVerdict verdict = MarkerVerdict::missing;
    std::optional<Marker> marker;  ///< set unless missing or damaged
    std::string damage;            ///< when damaged: the reader's complaint (names the file)

    bool vouches() const { return verdict == MarkerVerdict::vouches; }
    /// The step has ended for this plan, well or not: the barrier's wait stops waiting for it.
    bool ended() const { return verdict == MarkerVerdict::vouches || verdict == MarkerVerdict::failed || verdict == MarkerVerdict::damaged; }
    /// For a failed marker, what follows the step's name: " failed on partition 'b': <message>"
    /// (": <message>" when it failed before any partition); "" otherwise.
    std::string failure() const;
};

/// Reads the marker of `step` (a slice's, or a whole-function node's when slice is -1).
MarkerReading read_step_marker(const StateLayout& state, const StepIdentity& step);

/// Whether a slice of the current plan (or a plain partition node's plan of one slice) has to
/// run: never when its part has no partitions; always when forced; otherwise unless its own
/// marker vouches for it.
bool needs_run(const StateLayout& state, const Unit& unit, const SlicePart& part, bool force);

/// Whether a whole-function node has to run: when forced, or unless its marker vouches for it,
/// carries the fingerprint of its inputs and definition now, and every file it wrote is as it
/// left it. `why` (optional) says which, in words.
bool needs_run(Project& project, const Unit& unit, bool force, std::string* why = nullptr);

/// Before a whole-function node runs again: its marker moves aside (StateLayout's
/// previous_node_marker), so that only the marker of this attempt can vouch for it, while the
/// node still learns from the old one which files it wrote last time. Nothing happens when it
/// has no marker (an attempt killed before writing one leaves the one set aside in place).
/// Throws StateError when the move fails.
void retire_node_marker(const StateLayout& state, std::string_view unit);

}  // namespace steppar
