/* train.h: what turns a model definition into a trained, evaluated and drawn
 * model, for any model the user defines: the trainer (trainer.h), the
 * evaluation and pictures of a latent-variable model (latent.h) and a model
 * program's command line (setup.h), learning curves (plot.h). docs/tutorial.md walks through a whole
 * model. */
#ifndef NN_TRAIN_H
#define NN_TRAIN_H

#include "trainer.h"
#include "latent.h"
#include "setup.h"
#include "plot.h"

#endif
