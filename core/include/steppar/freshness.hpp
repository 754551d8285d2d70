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

#include "steppar/definition_store.hpp"
#include "steppar/ledger.hpp"
#include "steppar/plan.hpp"
#include "steppar/project.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steppar {

/// Why a partition runs, as a reason code (`plan`, `run` and `why` print them):
///   new-input                         no record: a new partition
///   input-changed:size|mtime|ctime    an input's stamp differs from its record (the first field
///                                     that differs, in that order)
///   upstream-rebuilt                  the input that changed is made by another unit of the pipeline
///   definition-changed:params|plugin|function|settings   (several joined with '+'; no detail
///                                     when the old definition's parts were never kept)
///   output-missing                    a recorded output is gone
///   output-modified-by-someone-else   a recorded output's stamp differs from what steppar wrote
///   forced                            --force
/// and for a partition whose input is gone: input-deleted->retract.
enum class Reason : std::uint8_t { new_partition, forced, input_changed, upstream_rebuilt, definition_changed, output_missing, output_changed };
const char* to_string(Reason reason);

/// A reason and its detail: for input-changed the stamp fields that differ (bits: 1 size,
/// 2 mtime, 4 ctime), for definition-changed the parts (definition_store.hpp's DefinitionPart).
struct Why {
    Reason reason;
    std::uint8_t detail = 0;
    bool operator==(const Why&) const = default;
};
/// "input-changed:mtime", "definition-changed:params+plugin", "new-input".
std::string reason_code(const Why& why);
inline constexpr std::string_view retract_code = "input-deleted->retract";
/// A whole-function node reruns (nothing to retract) when a partition of its input is deleted.
inline constexpr std::string_view whole_input_deleted_code = "input-deleted";

/// Per reason code, how many partitions and which (all, or the first `examples`), in the order
/// codes first appear; retractions included.
struct ReasonCount {
    std::string code;
    std::size_t count = 0;
    std::vector<std::string> partitions;
};

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
    std::vector<Why> reasons;          ///< why each dirty partition runs
    std::vector<std::uint64_t> dirty_bytes;  ///< input bytes of each dirty partition
    std::vector<std::pair<std::string, std::string>> retract;  ///< gone from the inputs: name, recorded output stamps
    std::vector<Adoption> adopt;
    /// --only-missing: partitions not adopted because an output's mtime lies in the future
    /// (make's rule cannot vouch for those: they are made again).
    std::vector<std::string> future_outputs;
    std::vector<std::string> foreign;  ///< files in output folders steppar did not write (paths)
    /// Per output (as `outputs`): the partitions other producers of it write now or wrote last
    /// (sorted). Not foreign, never retracted by this unit.
    std::vector<std::vector<std::string>> claimed;
    std::vector<std::string> temporaries;  ///< AtomicFile temporaries met in the output folders
    std::size_t up_to_date = 0, new_count = 0, changed_count = 0, left_out = 0;
    std::size_t partitions = 0;        ///< zipped partitions now (selected or not)
    std::string damaged;               ///< the ledger's complaint, if any
    std::shared_ptr<const Ledger> ledger;  ///< what it was compared with (a slicer may fold it)
    /// The parts of the definitions of now (the unit's, and each configured one a dirty
    /// partition runs with): the slicer keeps them (definition_store.hpp) for later reasons.
    std::shared_ptr<DefinitionParts> definition_parts;
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

/// The reasons of an assessment, counted per code, keeping up to `examples` partition names each
/// (all of them with examples = SIZE_MAX).
std::vector<ReasonCount> reason_counts(const Assessment& assessment, std::size_t examples);
/// "new-input 1 (doc-0040); input-changed:mtime 2 (doc-0003, doc-0007)": the run's log line.
std::string reasons_text(const std::vector<ReasonCount>& counts);

/// The parts of the unit's definition as kept by definition_store.hpp (JSON text), with the
/// digest unit_definition() gives.
std::string unit_definition_parts(Project& project, const Unit& unit, std::string* digest = nullptr);

/// A whole-function node's fingerprint: its definition and the stamp of every input file.
/// With `inputs`, also the listing it digested after the definition (for each partitioned input
/// a line "" and its name, then a line `"partition" STAMP` per partition), which the node keeps
/// so that `why` can name the partitions that changed since.
std::string whole_node_fingerprint(Project& project, const Unit& unit, std::string* inputs = nullptr);

/// Stamps of a listing made by whole_node_fingerprint: (dataset, partition) -> stamp text.
/// Throws StateError for a line that is none of its lines.
std::map<std::pair<std::string, std::string>, std::string> parse_whole_node_inputs(std::string_view listing);

}  // namespace steppar
