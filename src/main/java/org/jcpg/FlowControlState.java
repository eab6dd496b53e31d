package org.jcpg;

/**
 * Whether the daemon asks senders to hold back ({@code cpg_flow_control_state_t}).
 * corosync 3.1.7 always reports {@link #DISABLED}; a full queue shows up as
 * {@link CpgError#TRY_AGAIN} from a send instead.
 */
public enum FlowControlState {
    /** New messages may be sent. */
    DISABLED,
    /** New messages should not be sent. */
    ENABLED
}
