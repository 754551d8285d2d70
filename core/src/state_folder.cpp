#include "steppar/state_folder.hpp"

#include "steppar/atomic_file.hpp"
#include "steppar/error.hpp"
#include "steppar/files.hpp"
#include "steppar/temporary_files.hpp"

#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace steppar {

namespace {

constexpr std::string_view owner_tag = "pipeline\t";

// The pipeline file as the state folder names it: relative to the folder.
std::string relative_name(const fs::path& pipeline_file, const fs::path& state) {
    return resolved_path(pipeline_file).lexically_relative(state).string();
}

// The pipeline file a signature names ("" when it names none).
std::string owner_in(const fs::path& signature) {
    std::ifstream in(signature);
    for (std::string line; std::getline(in, line);)
        if (line.compare(0, owner_tag.size(), owner_tag) == 0) return line.substr(owner_tag.size());
    return {};
}

}  // namespace

bool is_state_entry(std::string_view name) {
    for (const char* own : {"units", "traces", "data", "slurm", "watch", "lock", "steps.lock", "watch.lock", state_signature})
        if (name == own) return true;
    return is_temporary_name(name);
}

void check_state_folder(const fs::path& state_root, const fs::path& pipeline_file, const Catalog& catalog) {
    const std::string shown = state_root.string();
    struct stat st {};
    if (::lstat(state_root.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        throw UsageError("the state folder '" + shown + "' is a symbolic link (to '" + resolved_path(state_root).string() +
                         "'): steppar does not write or clean through one; give its real path with --state-dir, or remove the link");
    // Whoever else may write the state folder can plant links and files that this run would
    // follow or trust (a root run above all): refused, as ssh refuses such a home folder.
    if (::stat(state_root.c_str(), &st) == 0) {
        if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
            throw UsageError("the state folder '" + shown + "' is writable by every user: anyone could plant links or files this run "
                             "would follow; run 'chmod o-w " + shown + "' or give --state-dir a folder of your own");
        if (st.st_uid != ::geteuid())
            throw UsageError("the state folder '" + shown + "' belongs to user " + std::to_string(st.st_uid) + ", not to this user (" +
                             std::to_string(::geteuid()) + "): its owner could plant links or files this run would follow; run as its "
                             "owner, or give --state-dir a folder of your own");
    }
    const fs::path state = resolved_path(state_root);
    const fs::path project = resolved_path(pipeline_file.parent_path());
    if (same_or_inside(project, state))
        throw UsageError("the state folder '" + shown + "' is the pipeline's folder '" + project.string() +
                         "' or holds it ('clean' would delete the project); leave --state-dir out (the default is .steppar beside the "
                         "pipeline file) or give a folder of its own");
    for (const auto& [name, d] : catalog.all()) {
        if (d.intermediate) continue;  // kept in the state folder by design
        const fs::path data = resolved_path(d.path);
        if (same_or_inside(state, data) || same_or_inside(data, state))
            throw UsageError("the state folder '" + shown + "' and dataset '" + name + "' ('" + data.string() +
                             "') overlap: steppar would keep its state among the data (read as partitions) or delete the data with "
                             "'clean'; give --state-dir a folder outside every dataset");
    }
    std::error_code ec;
    if (fs::exists(state / state_signature, ec)) {
        const std::string owner = owner_in(state / state_signature), now = relative_name(pipeline_file, state);
        if (!owner.empty() && owner != now) {
            const std::string owner_file = (state / owner).lexically_normal().string();
            throw UsageError("the state folder '" + shown + "' belongs to the pipeline file '" + owner_file + "' (its " + state_signature +
                             " says so), not to '" + resolved_path(pipeline_file).string() +
                             "': two pipelines sharing one state folder would retract each other's outputs; give this one its own with "
                             "--state-dir DIR (or, if '" + owner_file + "' was renamed, remove '" + (state_root / state_signature).string() +
                             "' to hand the state over)");
        }
        return;
    }
    if (!fs::is_directory(state, ec)) return;
    for (const auto& entry : fs::directory_iterator(state, ec)) {
        const std::string name = entry.path().filename().string();
        if (!is_state_entry(name))
            throw UsageError("the state folder '" + shown + "' holds '" + name + "', which steppar did not write, and it has no '" +
                             state_signature + "' file saying it is a state folder; give --state-dir an empty or new folder, or move '" +
                             name + "' out of it");
    }
}

void claim_state_folder(const fs::path& state_root, const fs::path& pipeline_file) {
    std::error_code ec;
    fs::create_directories(state_root, ec);
    const fs::path signature = state_root / state_signature;
    if (fs::is_regular_file(fs::symlink_status(signature, ec))) return;
    // Through a temporary and a rename: a link planted under this name is replaced, never followed.
    write_file_atomically(signature, "This folder is a steppar state folder (plans, markers, ledgers, traces): 'steppar-host clean' "
                                     "removes what steppar wrote here and nothing else.\n" +
                                         std::string(owner_tag) + relative_name(pipeline_file, resolved_path(state_root)) + "\n");
}

}  // namespace steppar
