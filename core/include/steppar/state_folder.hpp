// The state folder is steppar's alone. Before anything runs, one check refuses a state folder
// that could hold, be, or sit among the user's files (the project folder, a dataset's folder,
// the pipeline file, a folder of someone else's files, a symbolic link); and a state folder
// steppar made carries a signature file, so that `clean` removes what steppar wrote and nothing
// else.
#pragma once

#include "steppar/catalog.hpp"

#include <filesystem>
#include <string_view>

namespace steppar {

/// The file that marks a folder as a steppar state folder.
inline constexpr const char* state_signature = ".steppar-state";

/// Whether a name at the top of a state folder is one steppar writes there (its folders, locks,
/// signature and temporaries): what `clean` removes.
bool is_state_entry(std::string_view name);

/// Throws UsageError naming both paths when the state folder `state_root` (resolved, like the
/// others: symbolic links and ".." followed) is the folder of `pipeline_file` or holds it, is a
/// dataset's folder of `catalog`, lies inside one or holds one; when it is itself a symbolic
/// link; when it exists without the signature and holds something steppar does not write; or
/// when its signature says it belongs to another pipeline file (two pipelines sharing one state
/// folder would retract each other's outputs).
void check_state_folder(const std::filesystem::path& state_root, const std::filesystem::path& pipeline_file, const Catalog& catalog);

/// Creates the state folder if need be and writes its signature when it has none, naming the
/// pipeline file it belongs to (relative to the folder, so a project moved whole keeps it).
void claim_state_folder(const std::filesystem::path& state_root, const std::filesystem::path& pipeline_file);

}  // namespace steppar
