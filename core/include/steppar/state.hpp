// The state folder (default `.steppar/` beside the pipeline file): where slice plans, markers
// and intermediate datasets live. One place decides every path in it.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace steppar {

class StateLayout {
public:
    explicit StateLayout(std::filesystem::path root) : root_(std::move(root)) {}

    const std::filesystem::path& root() const noexcept { return root_; }
    /// Folder of one multinode/multipipeline's plan and markers.
    std::filesystem::path unit_dir(std::string_view unit) const { return root_ / "units" / std::string(unit); }
    std::filesystem::path plan(std::string_view unit) const { return unit_dir(unit) / "slices.json"; }
    /// The folder of one plan's per-slice parts, and one part (see plan.hpp).
    std::filesystem::path plan_parts_dir(std::string_view unit) const { return unit_dir(unit) / "slices"; }
    std::filesystem::path plan_part(std::string_view unit, int slice) const {
        return plan_parts_dir(unit) / ("slice-" + std::to_string(slice) + ".json");
    }
    std::filesystem::path markers_dir(std::string_view unit) const { return unit_dir(unit) / "markers"; }
    std::filesystem::path marker(std::string_view unit, int slice) const {
        return markers_dir(unit) / ("slice-" + std::to_string(slice) + ".json");
    }
    /// The marker of a plain node.
    std::filesystem::path node_marker(std::string_view unit) const { return markers_dir(unit) / "node.json"; }
    /// The input listing a whole-function node ran with (freshness.hpp), named by its fingerprint.
    std::filesystem::path node_inputs(std::string_view unit, std::string_view fingerprint) const {
        return unit_dir(unit) / "inputs" / (std::string(fingerprint) + ".txt");
    }
    /// A plain node's last marker, set aside while it runs again (vouching.hpp).
    std::filesystem::path previous_node_marker(std::string_view unit) const { return markers_dir(unit) / "node.previous.json"; }
    /// Which partition slice `slice` is working on (an index, rewritten in place), so a crash
    /// report can name it.
    std::filesystem::path progress(std::string_view unit, int slice) const {
        return unit_dir(unit) / "progress" / ("slice-" + std::to_string(slice));
    }
    /// Held (flock) by the `run` that owns this state folder; holds its pid.
    std::filesystem::path lock() const { return root_ / "lock"; }
    /// Held (flock) by `steppar-host watch` for its life; holds its pid (run_lock.hpp).
    std::filesystem::path watch_lock() const { return root_ / "watch.lock"; }
    /// Held (shared flock) by every step process while it lives (run_lock.hpp).
    std::filesystem::path steps_lock() const { return root_ / "steps.lock"; }
    /// Where datasets that are not in the catalog are written.
    std::filesystem::path intermediate_root() const { return root_ / "data"; }

private:
    std::filesystem::path root_;
};

}  // namespace steppar
