// The one tfjs-core instance of the project. Every package imports `tf` from here so that tensors, kernels and
// backends registered anywhere are visible everywhere (two copies of tfjs-core would hold two separate engines).
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);
// tfjs-core's Node build registers no gradients; the official union package registers all of them (into the
// registry every tfjs-core copy shares), which is how tfjs trains under Node. Loaded with require because only
// its side effect is needed: an ESM import would first scan its 1.3 MB bundle for export names (~0.5 s a thread).
require('@tensorflow/tfjs');

export { tf };
