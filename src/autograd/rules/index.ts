// Registers every backward rule (import for side effects).
import './binary.js';
import './conv.js';
import './crossentropy.js';
import './matmul.js';
import './movement.js';
import './norm-pool.js';
import './reduce.js';
import './unary.js';
