// The one tfjs-core instance of the project. Every package imports `tf` from here so that tensors, kernels and
// backends registered anywhere are visible everywhere (two copies of tfjs-core would hold two separate engines).
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node build registers no gradients; the official union package registers all of them (into the
// registry every tfjs-core copy shares), which is how tfjs trains under Node.
import '@tensorflow/tfjs';

export { tf };
