// A file that includes laconic.hpp and uses nothing: what every including file pays.

#include <laconic/laconic.hpp>

int main() {}
