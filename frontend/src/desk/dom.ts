/** The desk's panels use the console's one DOM helper. */
export { button, el } from '../dom';
