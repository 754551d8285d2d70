// Freshness: the one place that decides which partitions must run (vouching.hpp decides
// whether a step must, from its marker). Every path asks here: the local runners,
// `run-slicer`/`run-slice`/`run-node` (by hand, exec'd or as cluster jobs), the fork server's
// children (through the plan the host made), the Slurm runner, `status` and `plan`.
//
// For a unit over partitions (a multinode, a multipipeline, or a plain node with a partition
// function) assess() compares, partition by partition, what is on disk now with the ledger
// (ledger.hpp). A partition is dirty when it is
//   new             no record (or forced with --force),
//   changed         its input stamps or its definition differ from its record, or one of its
//                   recorded outputs is missing or was changed by someone else;
// it is up to date otherwise, and nothing touches its outputs. A partition in the ledger whose
// input is gone is retracted (its outputs removed) before anything downstream runs. Files in an
// output folder that steppar did not write are foreign: named, never deleted. Partitions left out
// by filter/exclude/--partitions/cached are neither run nor retracted.
//
// A unit's definition digest covers what decides an output besides the input bytes: each node's
// name, function, plugin file bytes, inputs, outputs and params, the catalog entries it uses, the
// stamps of its whole-file inputs (a lookup table), and, per partition, the configurator chosen
// for it and its data. Slice counts, balance, filters and the runner are not in it: changing them
// never reruns a partition. Its exact bytes (a canonical encoding of steppar's own, not a JSON
// library's text) are specified in definition.hpp.
//
// A plain node with a whole function has one marker instead (marker.hpp) whose fingerprint
// covers its definition and the stamp of every input file, and which lists the files it wrote
// with their stamps.
#pragma once

#include "steppar/ledger.hpp"
#include "steppar/plan.hpp"
#include "steppar/project.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace steppar {

/// Why a partition runs.
enum class Reason : std::uint8_t { new_partition, forced, input_changed, definition_changed, output_missing, output_changed };
const char* to_string(Reason reason);

struct AssessOptions {
    bool force = false;   ///< every selected partition is dirty
    std::string only;     ///< --partitions: a regex narrowing the selection
    bool adopt = false;   ///< --only-missing: outputs present and newer than inputs count as done
};

/// A partition to be recorded without running it (--only-missing adoption).
struct Adoption {
    std::string name;
    std::vector<FileStamp> inputs, outputs;
};

struct Assessment {
    std::vector<std::string> inputs;   ///< the zipped input datasets
    std::vector<std::string> outputs;  ///< every output dataset of the unit, in record order
    std::string definition;            ///< the unit's definition digest (without configurators)
    std::vector<std::string> dirty;    ///< partitions to run, sorted
    std::vector<Reason> reasons;       ///< why each dirty partition runs
    std::vector<std::uint64_t> dirty_bytes;  ///< input bytes of each dirty partition
    std::vector<std::pair<std::string, std::string>> retract;  ///< gone from the inputs: name, recorded output stamps
    std::vector<Adoption> adopt;
    std::vector<std::string> foreign;  ///< files in output folders steppar did not write (paths)
    /// Per output (as `outputs`): the partitions other producers of it write now or wrote last
    /// (sorted). Not foreign, never retracted by this unit.
    std::vector<std::vector<std::string>> claimed;
    std::vector<std::string> temporaries;  ///< AtomicFile temporaries met in the output folders
    std::size_t up_to_date = 0, new_count = 0, changed_count = 0, left_out = 0;
    std::size_t partitions = 0;        ///< zipped partitions now (selected or not)
    std::string damaged;               ///< the ledger's complaint, if any
    std::shared_ptr<const Ledger> ledger;  ///< what it was compared with (a slicer may fold it)
};

/// The unit's definition digest (see the banner), without the per-partition configurator.
std::string unit_definition(Project& project, const Unit& unit);

/// Each partition's definition: the unit's, combined with the configurator chosen for it (when
/// the unit has configurators). Digests are made once per configurator.
class PartitionDefinitions {
public:
    PartitionDefinitions(std::string unit_definition, const ConfiguratorSet* configurators);
    /// The definition of `partition`; `chosen` (optional) receives its configurator or null.
    const std::string& of(const std::string& partition, const Configurator** chosen = nullptr);

private:
    std::string unit_;
    const ConfiguratorSet* configurators_;
    std::map<const Configurator*, std::string> cache_;
};

/// Compares the inputs, the outputs and the ledger of a unit over partitions. Writes nothing.
/// Scans the inputs and the output folders concurrently.
Assessment assess(Project& project, const Unit& unit, const AssessOptions& options);

/// "1 new, 2 changed, 7,527 up to date" (plus retracted and left out when there are any).
std::string summary(const Assessment& assessment);

/// A whole-function node's fingerprint: its definition and the stamp of every input file.
std::string whole_node_fingerprint(Project& project, const Unit& unit);

}  // namespace steppar
