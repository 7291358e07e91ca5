/** s4.ssm: the float64 set-up math of SSM layers and the recurrent steppers. */
export { stepper, diagStepper, Stepper, type StepperOptions, type DplrStepperOptions } from './stepper';
