// The per-slice marker: the last thing a slice writes (atomically), recording what it did.
// The barrier trusts nothing else: a slice is done exactly when its marker is present, valid,
// names the current plan and says "success". A plain node has one marker too (slice -1), which
// lets a rerun skip it when nothing it depends on changed.
//
//   {"format": 1, "unit": "count", "slice": 0, "plan_id": "...", "fingerprint": "...", "status": "success",
//    "partitions": ["a", "b"], "outputs": ["counts"], "pid": 1234, "host": "box",
//    "seconds": 0.012}
//   failed: "status": "failed", "error": {"partition": "b", "message": "..."}
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace steppar {

struct Marker {
    static constexpr int format = 1;

    std::string unit;
    int slice = -1;
    std::string plan_id;
    std::string fingerprint;  ///< of inputs, node definitions and plugin: a match means "up to date"
    bool success = false;
    std::vector<std::string> partitions;  ///< the partitions it processed
    std::vector<std::string> outputs;     ///< the datasets it wrote them into
    long pid = 0;
    std::string host;
    double seconds = 0;
    std::string failed_partition;  ///< when !success: where it failed ("" if before any partition)
    std::string message;           ///< when !success: why
};

std::string to_json(const Marker& marker);
/// Throws StateError naming `origin` when the text is not a valid marker.
Marker marker_from_json(std::string_view text, const std::string& origin);

/// Writes the marker atomically and durably (after a syncfs of the outputs).
void write_marker(const std::filesystem::path& path, const Marker& marker);
/// The marker at `path`, or nothing when there is none; throws StateError when it is corrupt.
std::optional<Marker> read_marker(const std::filesystem::path& path);

}  // namespace steppar
