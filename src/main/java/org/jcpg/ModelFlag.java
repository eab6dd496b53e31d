package org.jcpg;

/** Options of the model-V1 connection ({@code cpg_model_v1_data_t.flags}). */
public enum ModelFlag {
    /**
     * Deliver the current totem configuration right after connecting
     * ({@code CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF}), not only later changes.
     * It may come before or after the connection's own JOIN.
     */
    DELIVER_INITIAL_TOTEM_CONF(0x01);

    private final int bit;

    ModelFlag(int bit) {
        this.bit = bit;
    }

    /** {@return the flag's bit in {@code cpg_model_v1_data_t.flags}} */
    public int bit() {
        return bit;
    }
}
