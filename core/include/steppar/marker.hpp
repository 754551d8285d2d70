// The marker: the last thing a slice or plain node writes (atomically), its own word on how it
// ended. A runner counts a step as done only with a success marker for the current plan (a
// process that exits 0 without one has not succeeded), and the barrier also checks the ledger
// (ledger.hpp) for every partition of the plan. A failed step leaves a failed marker naming the
// partition, which `status` reports. A whole-function node (slice -1) keeps its fingerprint and
// the files it wrote with their stamps (freshness.hpp), so a rerun can skip it or retract them.
//
//   {"format": 2, "unit": "count", "slice": 0, "plan_id": "...", "generation": 7, "fingerprint": "",
//    "status": "success", "partitions": 2, "outputs": ["counts"], "written": {},
//    "pid": 1234, "host": "box", "seconds": 0.012, "checksum": "<sha256>"}
//   failed: "status": "failed", "error": {"partition": "b", "message": "..."}
// It is sealed (sealed.hpp): a marker edited or damaged, even keeping its size, is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace steppar {

struct Marker {
    static constexpr int format = 2;

    std::string unit;
    int slice = -1;
    std::string plan_id;
    std::uint64_t generation = 0;  ///< the plan's generation (ledger segments carry it)
    std::string fingerprint;  ///< whole-function nodes: of inputs and definition; a match means "up to date"
    bool success = false;
    std::size_t partitions = 0;          ///< how many partitions it processed
    std::vector<std::string> outputs;     ///< the datasets it wrote them into
    std::map<std::string, std::string> written;  ///< whole-function nodes: file -> stamp (stamp.hpp)
    long pid = 0;
    std::string host;
    double seconds = 0;
    std::string failed_partition;  ///< when !success: where it failed ("" if before any partition)
    std::string message;           ///< when !success: why
    std::map<std::string, long long> metrics;  ///< the nodes' counters (ctx.count()), summed over the step
    std::size_t skipped = 0;                   ///< output partitions the nodes skipped (ctx.skip_output())
    std::string definition;  ///< whole-function nodes: the unit's definition digest (definition_store.hpp keeps its parts)
};

std::string to_json(const Marker& marker);
/// Throws StateError naming `origin` when the text is not a valid marker.
Marker marker_from_json(std::string_view text, const std::string& origin);

/// Writes the marker atomically and durably (after a syncfs of the outputs).
void write_marker(const std::filesystem::path& path, const Marker& marker);
/// The marker at `path`, or nothing when there is none; throws StateError when it is corrupt.
std::optional<Marker> read_marker(const std::filesystem::path& path);

}  // namespace steppar
