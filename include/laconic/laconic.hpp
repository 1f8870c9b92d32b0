#pragma once

// Everything in laconic except the MPI transport.

#include <laconic/version.hpp>

#include <laconic/core/bits.hpp>
#include <laconic/core/concepts.hpp>
#include <laconic/core/errors.hpp>
#include <laconic/core/ledger.hpp>
#include <laconic/core/rng.hpp>
#include <laconic/core/types.hpp>

#include <laconic/data/csv.hpp>
#include <laconic/data/dataset.hpp>
#include <laconic/data/idx.hpp>
#include <laconic/data/libsvm.hpp>
#include <laconic/data/partition.hpp>
#include <laconic/data/synthetic.hpp>

#include <laconic/objective/least_squares.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/objective/softmax.hpp>

#include <laconic/compress/identity.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/skip/never.hpp>

#include <laconic/methods.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/simulation.hpp>
