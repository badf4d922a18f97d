// Test driver for report_main (cli/report.cpp) on its own: `report_driver
// [report] DIR [--out FILE]`, the same arguments as `convergent report`.
#include <string>
#include <vector>

#include "report.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args.front() == "report") args.erase(args.begin());
    return report_main(args);
}
