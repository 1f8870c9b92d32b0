#pragma once

// Everything in laconic except the MPI transport.

#include <laconic/version.hpp>

#include <laconic/core/archive.hpp>
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
#include <laconic/data/transform.hpp>

#include <laconic/objective/least_squares.hpp>
#include <laconic/objective/logistic.hpp>
#include <laconic/objective/softmax.hpp>

#include <laconic/compress/channel.hpp>
#include <laconic/compress/error_feedback.hpp>
#include <laconic/compress/fp16.hpp>
#include <laconic/compress/identity.hpp>
#include <laconic/compress/markov.hpp>
#include <laconic/compress/qsgd.hpp>
#include <laconic/compress/rand_k.hpp>
#include <laconic/compress/scaled_sign.hpp>
#include <laconic/compress/top_k.hpp>
#include <laconic/compress/uniform.hpp>
#include <laconic/server/amsgrad.hpp>
#include <laconic/server/participation.hpp>
#include <laconic/server/periodic_average.hpp>
#include <laconic/server/server_update.hpp>
#include <laconic/server/sgd.hpp>
#include <laconic/skip/lag.hpp>
#include <laconic/skip/laq.hpp>
#include <laconic/skip/lasg.hpp>
#include <laconic/skip/never.hpp>
#include <laconic/skip/skip_rule.hpp>

#include <laconic/methods.hpp>
#include <laconic/precompiled.hpp>
#include <laconic/sim/checkpoint.hpp>
#include <laconic/sim/cost_model.hpp>
#include <laconic/sim/history.hpp>
#include <laconic/sim/reference.hpp>
#include <laconic/sim/simulation.hpp>
