#include "steppar/catalog.hpp"

#include "steppar/error.hpp"
#include "steppar/text.hpp"

#include <algorithm>
#include <stdexcept>

namespace fs = std::filesystem;

namespace steppar {

fs::path Dataset::partition_path(std::string_view partition) const {
    return path / (std::string(partition) + suffix);
}

std::vector<Partition> list_partitions(const Dataset& dataset) {
    std::error_code ec;
    if (!fs::is_directory(dataset.path, ec))
        throw StateError("dataset '" + dataset.name + "': input folder '" + dataset.path.string() +
                         "' does not exist (create it or fix the catalog path)");
    std::vector<Partition> partitions;
    const auto options = fs::directory_options::follow_directory_symlink;
    fs::recursive_directory_iterator it(dataset.path, options, ec), end;
    if (ec) throw StateError("dataset '" + dataset.name + "': cannot list '" + dataset.path.string() + "': " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec) throw StateError("dataset '" + dataset.name + "': cannot list '" + dataset.path.string() + "': " + ec.message());
        const std::string filename = it->path().filename().string();
        if (!filename.empty() && filename.front() == '.') {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file(ec)) continue;
        if (filename.size() < dataset.suffix.size() ||
            filename.compare(filename.size() - dataset.suffix.size(), dataset.suffix.size(), dataset.suffix) != 0)
            continue;
        std::string relative = it->path().lexically_relative(dataset.path).generic_string();
        // Plans and markers are JSON, which holds only UTF-8: such a name could not be recorded.
        if (!valid_utf8(relative))
            throw StateError("dataset '" + dataset.name + "': file name '" + it->path().string() +
                             "' is not valid UTF-8; rename it (partition names are stored in JSON)");
        relative.resize(relative.size() - dataset.suffix.size());
        if (relative.empty()) continue;  // a file named exactly like the suffix has no name
        partitions.push_back({std::move(relative), it->path()});
    }
    std::sort(partitions.begin(), partitions.end(),
              [](const Partition& a, const Partition& b) { return a.name < b.name; });
    return partitions;
}

void Catalog::add(Dataset dataset) {
    const std::string name = dataset.name;
    if (!datasets_.emplace(name, std::move(dataset)).second)
        throw std::invalid_argument("dataset '" + name + "' is declared twice");
}

bool Catalog::contains(std::string_view name) const { return datasets_.find(name) != datasets_.end(); }

const Dataset& Catalog::at(std::string_view name) const {
    const auto it = datasets_.find(name);
    if (it == datasets_.end()) throw std::out_of_range("no dataset '" + std::string(name) + "'");
    return it->second;
}

std::vector<std::string> Catalog::names() const {
    std::vector<std::string> names;
    for (const auto& [name, _] : datasets_) names.push_back(name);
    return names;
}

}  // namespace steppar
