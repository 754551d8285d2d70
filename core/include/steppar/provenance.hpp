// Provenance: why an output is what it is, and whether a run would remake it (`steppar-host
// why`). For a partition of a unit over partitions the answer comes from the ledger (ledger.hpp):
// the record that made it (plan generation, definition digest, the stamps of its inputs and
// outputs then), compared one by one with the files and the definition now, and, through the
// definition parts the slicers keep (definition_store.hpp), which param, plugin, function or
// setting changed. For an output of a whole-function node it comes from the node's marker. A
// path in a dataset that steppar did not write is "foreign". It looks up one partition in one
// unit's ledger (Ledger::lookup) and in its plan (slice_holding), and reads a few files: no
// scan of any folder, and no whole ledger or plan in memory.
#pragma once

#include "steppar/project.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace steppar {

/// One file's stamp as recorded and as it is now ("" when missing).
struct StampThenNow {
    std::string dataset, path;
    std::string then, now;
    bool changed() const { return then != now; }
};

struct Provenance {
    enum class Kind { made, foreign, not_made };  ///< not_made: in an output dataset, no record and no file
    Kind kind = Kind::foreign;
    std::string path;       ///< as asked, made absolute
    std::string dataset;    ///< the dataset it belongs to
    std::string partition;  ///< "" for a file dataset
    std::string unit;       ///< the unit that makes it ("" when foreign)
    std::vector<std::string> nodes;  ///< its nodes writing the dataset
    int slice = -1;                  ///< the slice that made it, when the plan of its generation is still on disk
    std::uint64_t generation = 0;    ///< the plan generation that made it (0: a whole-function node)
    std::string made_at;             ///< when its file was written (UTC, from its recorded stamp)
    std::vector<StampThenNow> inputs, outputs;
    std::string definition_then, definition_now;     ///< digests
    std::string parts_then, parts_now;               ///< definition parts (JSON text; "" when not kept)
    std::vector<std::string> definition_changes;     ///< in words (definition_store.hpp)
    std::vector<std::string> verdict;                ///< reason codes (freshness.hpp); empty: up to date
    std::string note;                                ///< what else to say (foreign: why)
};

/// Explains `path` (a file of an output dataset, or of an input one: then "foreign" unless a
/// unit writes that dataset too). Throws UsageError when the path is in no dataset of the pipeline.
Provenance explain_output(Project& project, const std::filesystem::path& path);

}  // namespace steppar
