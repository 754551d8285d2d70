// The catalog: every dataset a pipeline reads or writes, and where it lives on disk.
//
// A *partitioned* dataset is a folder: each file under it (recursively) whose name ends with the
// dataset's suffix is a partition, named by its path relative to the folder without the suffix
// ("2024/05/orders" for data/2024/05/orders.txt). Hidden files (leading '.') are never
// partitions; that is where temporary files live. A *file* dataset is one file.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace steppar {

enum class DatasetKind { partitioned, file };

struct Dataset {
    std::string name;
    DatasetKind kind = DatasetKind::partitioned;
    std::filesystem::path path;  ///< absolute folder (partitioned) or file path
    std::string suffix;          ///< partitioned only, e.g. ".txt"; may be empty
    bool intermediate = false;   ///< not in the user's catalog: placed under the state folder
    int line = 0;                ///< where the pipeline file declares it, for messages

    bool partitioned() const noexcept { return kind == DatasetKind::partitioned; }
    /// Where partition `name` of this dataset lives (a plain string: this runs once per
    /// partition and file, and a std::filesystem::path would parse it into components).
    std::string partition_path(std::string_view partition) const;
};

/// The partition names of a partitioned dataset, sorted (byte order), so every process sees the
/// same order; Dataset::partition_path() gives each one's file. Symbolic links to files and
/// folders are followed. Throws StateError when the folder is missing or unreadable.
std::vector<std::string> list_partitions(const Dataset& dataset);

class Catalog {
public:
    /// Adds a dataset; throws std::invalid_argument if the name is taken.
    void add(Dataset dataset);
    bool contains(std::string_view name) const;
    const Dataset& at(std::string_view name) const;  ///< throws std::out_of_range
    const std::map<std::string, Dataset, std::less<>>& all() const noexcept { return datasets_; }
    std::vector<std::string> names() const;

private:
    std::map<std::string, Dataset, std::less<>> datasets_;
};

}  // namespace steppar
